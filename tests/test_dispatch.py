"""Runtime CPU dispatch: set_isa caps the table, show_config lists every slot, an
unsupported or unknown GRADIENTE_ISA warns and falls back."""
import io

import pytest

from gradiente import _config

SLOTS = ["gemm_f32", "gemm_f64", "optim_f32", "optim_f64"]


@pytest.fixture
def ck():
    ck = _config._native()
    yield ck
    _config.set_isa(_config.available_isas()[-1])


def test_slots_listed(ck):
    assert ck.dispatch_slots() == SLOTS
    assert ck.dispatch_isa("no_such_slot") == -1


def test_available_isas_start_generic(ck):
    isas = _config.available_isas()
    assert isas[0] == "generic"
    assert isas == list(_config._ISA_NAMES[: len(isas)])


@pytest.mark.parametrize("name", _config._ISA_NAMES)
def test_set_isa_caps_every_slot(ck, name):
    best = _config.available_isas()[-1]
    expected = name if name in _config.available_isas() else best
    assert _config.set_isa(name) == expected
    for slot in SLOTS:
        assert _config._ISA_NAMES[ck.dispatch_isa(slot)] == expected


def test_set_isa_rejects_unknown(ck):
    with pytest.raises(ValueError, match="set_isa"):
        _config.set_isa("sse9")


def test_show_config_lists_slots(ck):
    _config.set_isa("generic")
    out = io.StringIO()
    _config.show_config(file=out)
    text = out.getvalue()
    for slot in SLOTS:
        assert f"isa[{slot}]: generic" in text
    assert "openmp:" in text and "compiler:" in text


def test_unknown_env_isa_warns(ck, monkeypatch):
    monkeypatch.setenv("GRADIENTE_ISA", "sse9")
    with pytest.warns(RuntimeWarning, match="not one of"):
        _config._init_isa()
    assert ck.dispatch_isa("gemm_f32") == ck.cpu_isa()


def test_unsupported_env_isa_warns(ck, monkeypatch):
    best = len(_config._ISA_NAMES) - 1
    if ck.cpu_isa() == best:
        # This CPU has every ISA: pretend it lacks the best one (the table itself is
        # still filled from the real CPU, so only the warning is checked).
        monkeypatch.setattr(ck, "cpu_isa", lambda: best - 1)
    monkeypatch.setenv("GRADIENTE_ISA", _config._ISA_NAMES[best])
    with pytest.warns(RuntimeWarning, match="not supported"):
        _config._init_isa()
    assert ck.dispatch_isa("gemm_f32") in range(len(_config._ISA_NAMES))


def test_env_isa_caps(ck, monkeypatch):
    monkeypatch.setenv("GRADIENTE_ISA", "generic")
    _config._init_isa()
    assert [ck.dispatch_isa(s) for s in SLOTS] == [0] * len(SLOTS)
