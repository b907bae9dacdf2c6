"""Native code's aligned-word field access (native_match.h kvn_word_read/kvn_word_write, used by
native_gen.py for fields inside one 64-bit word of the packet state) against the engine's own
kv_field_read/kv_field_write: every field position and width inside a word, on random state."""

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parents[1] / "target" / "pipeline"

PROGRAM = r"""
#include <stdio.h>
#include "native_abi.h"
#include "native_match.h"

static uint64_t rng = 0x243F6A8885A308D3ULL;
static uint64_t next(void) {
    rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;
    return rng;
}

int main(void) {
    uint8_t a[48], b[48];
    long bad = 0, checked = 0;
    for (uint32_t word = 0; word < 3; word++)
    for (uint32_t off = 0; off < 64; off++)
    for (uint32_t width = 1; off + width <= 64; width++)
    for (int round = 0; round < 4; round++) {
        uint32_t bitoff = 64 * word + off;
        kv_field_t f = {0};
        f.bitoff = bitoff; f.width = (uint16_t)width; f.narrow = 1;
        f.byte = bitoff / 8;
        f.shift = (uint8_t)(64 - bitoff % 8 - width);
        f.mask = (width == 64 ? ~0ULL : ((1ULL << width) - 1)) << f.shift;
        for (int i = 0; i < 48; i++) a[i] = b[i] = (uint8_t)next();
        uint64_t fmask = width == 64 ? ~0ULL : ((1ULL << width) - 1);
        uint32_t shift = 64 - off - width;
        uint64_t got = kvn_word_read(a + 8 * word, shift, fmask);
        uint64_t want = (uint64_t)kv_field_read(&f, a, NULL);
        uint64_t v = next();            /* bits above the width must be dropped */
        kv_field_write(&f, a, (kv_s128)v);
        kvn_word_write(b + 8 * word, shift, fmask, v);
        checked++;
        if (got != want || memcmp(a, b, sizeof(a)) != 0) {
            if (bad++ < 5)
                printf("bitoff %u width %u: read %llx want %llx, write %s\n", bitoff, width,
                       (unsigned long long)got, (unsigned long long)want,
                       memcmp(a, b, sizeof(a)) ? "differs" : "same");
        }
    }
    printf("checked %ld bad %ld\n", checked, bad);
    return bad != 0;
}
"""


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cc = shutil.which("cc")
    assert cc is not None, "native code needs a C compiler (cc)"
    folder = tmp_path_factory.mktemp("word_access")
    src, exe = folder / "word_access.c", folder / "word_access"
    src.write_text(PROGRAM)
    subprocess.run([cc, "-O2", "-fno-strict-aliasing", "-I", str(HERE), "-o", str(exe), str(src)],
                   check=True)
    return exe


def test_word_access_reads_and_writes_every_field_inside_a_word_as_the_engine_does(
        compiled: Path) -> None:
    proc = subprocess.run([str(compiled)], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout
    assert "checked 24960 bad 0" in proc.stdout
