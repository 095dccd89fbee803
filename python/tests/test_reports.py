"""Kernel.energy() and Kernel.explain(): the reports `pj energy` and
`pj explain` print, as text and as data, at sizes given by name or by
array."""

from pathlib import Path

import numpy as np
import pytest

import picojoule as pj

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def blur():
    return pj.compile(ROOT / "examples" / "blur.pj").blur


def test_explain_names_each_decision_and_the_alternatives_weighed(blur):
    r = blur.explain(H=2048, W=2048)
    text = str(r)
    assert text.startswith("schedule of `blur` for host")
    assert "H=2048, W=2048" in text
    d = r.data
    assert d["kernel"] == "blur" and d["sizes"] == {"H": 2048, "W": 2048}
    [out] = d["decisions"]
    assert out["stage"] == "out" and "sliding window" in out["chosen"]
    chosen = [a for a in out["alternatives"] if a["chosen"]]
    assert len(chosen) == 1
    # the kernel as chosen is the chosen alternative's estimate
    assert chosen[0]["estimate"]["microjoules"] == pytest.approx(d["total"]["microjoules"])
    assert "<pre>" in r._repr_html_()


@pytest.mark.parametrize("backend", pj.backends())
def test_explain_estimates_the_code_of_the_kernels_backend(backend):
    blur = pj.compile(ROOT / "examples" / "blur.pj", backend=backend).blur
    explained = blur.explain(H=2048, W=2048).data["total"]
    energy = blur.energy(H=2048, W=2048).data["optimized"]["total"]
    assert explained["seconds"] == pytest.approx(energy["seconds"])
    assert explained["instructions"] == pytest.approx(energy["instructions"])


def test_energy_takes_sizes_from_arrays_and_the_bench_line(blur):
    e = blur.energy(input=np.zeros((512, 256), np.float32))
    assert e.data["sizes"] == {"H": 512, "W": 256}
    opt, unopt = e.data["optimized"]["total"], e.data["unoptimized"]["total"]
    assert opt["microjoules"] < unopt["microjoules"]
    # the input once, the result twice: read for ownership, written back
    assert e.data["optimized"]["compulsory_bytes"] == 3 * 512 * 256 * 4
    assert e.data["optimized"]["nests"][0]["lines"], "each nest names its source lines"
    assert "energy model: `blur` at H=512, W=256" in e.text
    # no sizes: the source's `// bench:` line (4096 x 4096 for blur)
    assert blur.energy().data["sizes"] == {"H": 4096, "W": 4096}
    assert blur.energy(target="aarch64").data["profile"].startswith("aarch64")


def test_bad_sizes_and_targets_are_named(blur):
    with pytest.raises(TypeError, match="neither a size .H, W. nor a parameter"):
        blur.energy(Q=3)
    with pytest.raises(ValueError, match="negative"):
        blur.explain(H=-1)
    with pytest.raises(ValueError, match="has 2 dims"):
        blur.energy(input=np.zeros(5, np.float32))
    with pytest.raises(ValueError, match='target="nowhere": no target profile'):
        blur.energy(target="nowhere")
    with pytest.raises(ValueError, match="2\\^48"):
        blur.energy(H=1 << 30, W=1 << 30)
