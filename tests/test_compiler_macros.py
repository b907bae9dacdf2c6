"""Function-like #define macros, expanded as the C preprocessor does (arguments expanded, the
result rescanned with the macro itself disabled, a name alone left as it is)."""

from __future__ import annotations

from target.compiler.preprocess import Preprocessor


def expand(text: str) -> list[str]:
    return [line for line in Preprocessor().run_text(text).text.splitlines() if line.strip()]


def test_arguments_are_expanded_and_the_result_rescanned() -> None:
    lines = expand("#define K 3\n#define ADD(a, b) ((a) + (b))\n#define TWICE(x) ADD(x, x)\n"
                   "x = TWICE(ADD(K, f(1, 2)));\n")
    assert lines == ["x = ((((3) + (f(1, 2)))) + (((3) + (f(1, 2)))));"]


def test_a_macro_name_without_arguments_and_a_self_reference_stay() -> None:
    lines = expand('#define F(x) F(x + 1)\ny = F;\nz = F(2);\ns = "F(1)";\n')
    assert lines == ["y = F;", "z = F(2 + 1);", 's = "F(1)";']


def test_ifdef_sees_function_like_macros_and_undef_removes_them() -> None:
    lines = expand("#define G(x) x\n#ifdef G\na;\n#endif\n#undef G\n#if defined(G)\nb;\n#endif\nG(c);\n")
    assert lines == ["a;", "G(c);"]


def test_elif_takes_the_first_true_branch_only() -> None:
    chain = "#if V == 1\none;\n#elif V == 2\ntwo;\n#elif V >= 2\nmany;\n#else\nother;\n#endif\n"
    assert [expand(f"#define V {v}\n" + chain) for v in (1, 2, 3, 0)] == [
        ["one;"], ["two;"], ["many;"], ["other;"]]
    # Inside a dead #if nothing is taken, and an #elif after a taken branch is not evaluated.
    assert expand("#if 0\n#if 1\na;\n#elif 1\nb;\n#else\nc;\n#endif\n#endif\nd;\n") == ["d;"]
    assert expand("#ifdef NOPE\na;\n#elif 1\nb;\n#elif 1 / 0\nc;\n#endif\n") == ["b;"]
