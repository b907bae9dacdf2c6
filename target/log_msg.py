"""The text of v1model's log_msg(format, {values}) as BMv2's log_msg primitive writes it.

BMv2 (bm_sim/core/primitives.cpp) scans the format for `{`, starting one character after the
previous stop, skips a `{` preceded by a backslash, pairs it with the next `}` that is not
preceded by a backslash, and puts the next value's decimal text in place of the pair. The scan
goes on one character after the inserted text, so its quirks are kept here on purpose: a `{`
at the very start of the format is never a placeholder, and of two adjacent pairs `{}{}` the
second is not seen. Pairs beyond the values are counted, and a count different from the
number of values is an error (BMv2 then exits; kvick logs BMv2's error line and goes on).
Finally `\\{` and `\\}` lose their backslash.
"""

from __future__ import annotations


def format_log_msg(fmt: str, values: list[int], where: str) -> tuple[bool, str]:
    """(True, message) or (False, BMv2's error text); `where` is BMv2's `file(line)`."""
    text = fmt
    start = 0
    counter = 0
    while (start := text.find("{", start + 1)) >= 0:
        if text[start - 1] == "\\":
            continue
        end = text.find("}", start)
        while end >= 0 and text[end - 1] == "\\":
            end = text.find("}", end + 1)
        if end < 0:
            return False, f'No matching "}}" in call to log_msg(): {where}.'
        if counter < len(values):
            shown = str(values[counter])
            text = text[:start] + shown + text[end + 1:]
            start += len(shown)
        else:
            start = end
        counter += 1
    if counter != len(values):
        return False, ("Not enough arguments for format string in call to log_msg(). Format string "
                       f"expected ({counter}) argument(s) but go ({len(values)}): {where}.")
    return True, text.replace("\\{", "{").replace("\\}", "}")
