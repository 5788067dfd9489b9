"""Which chunks may share a warm Blender (kinds/blender_warm.py), and how it is started."""

from __future__ import annotations

from renderd.kinds.blender_warm import RUNNER, blank_spec, warm_spec

FIELDS = {"scene": "Main", "extra": ["-t", "2"], "after": ["--cycles-device", "CPU"]}


def test_a_warm_blender_starts_with_a_cold_runs_rules_plus_our_runner() -> None:
    spec = warm_spec("/usr/bin/blender", "/s/a.blend", FIELDS, 1, 10, 2, "/s/out/.renderd-x/f_####", None)
    assert spec is not None
    assert spec.argv[:4] == ["/usr/bin/blender", "-b", "/s/a.blend", "-Y"]
    assert spec.argv[spec.argv.index("--python") + 1] == str(RUNNER)
    assert spec.argv[-3:] == ["--", "--cycles-device", "CPU"] and "-a" not in spec.argv
    assert spec.request == {"scene": "Main", "start": 1, "end": 10, "step": 2, "output": "/s/out/.renderd-x/f_####",
                            "file": "/s/a.blend"}
    assert spec.env == {}


def test_chunks_share_one_only_when_their_start_up_would_be_the_same() -> None:
    base = warm_spec("/b", "/s/a.blend", FIELDS, 1, 10, 1, "/o", None)
    other_frames = warm_spec("/b", "/s/a.blend", {**FIELDS, "scene": "Alt"}, 11, 20, 1, "/o2", None)
    assert base is not None and other_frames is not None and base.key == other_frames.key
    for changed in (warm_spec("/b", "/s/b.blend", FIELDS, 1, 10, 1, "/o", None),
                    warm_spec("/b", "/s/a.blend", {**FIELDS, "extra": ["-t", "1"]}, 1, 10, 1, "/o", None),
                    warm_spec("/b", "/s/a.blend", FIELDS, 1, 10, 1, "/o", "CUDA:0")):
        assert changed is not None and changed.key != base.key
    gpu = warm_spec("/b", "/s/a.blend", FIELDS, 1, 10, 1, "/o", "CUDA:0")
    assert gpu is not None and gpu.env["RENDERD_WARM_DEVICE"] == "CUDA:0"


def test_jobs_that_run_python_always_run_cold() -> None:
    assert warm_spec("/b", "/s/a.blend", {**FIELDS, "trust_scripts": True}, 1, 1, 1, "/o", None) is None
    for extra in (["-y"], ["--enable-autoexec"], ["-P", "x.py"], ["--python-expr", "1"], ["--python=x.py"]):
        assert warm_spec("/b", "/s/a.blend", {**FIELDS, "extra": extra}, 1, 1, 1, "/o", None) is None, extra


def test_a_pre_started_blender_takes_only_chunks_with_no_extra_options_but_threads() -> None:
    blank = blank_spec("/b", None)
    assert blank.argv == ["/b", "-b", "-Y", "--python-exit-code", "1", "--python", str(RUNNER)]
    plain = warm_spec("/b", "/s/a.blend", {"scene": "A", "extra": ["-t", "1"], "after": []}, 1, 2, 1, "/o", None)
    assert plain is not None and plain.blank_key == blank.key and plain.request["threads"] == 1
    for extra, after in ((["-E", "CYCLES"], []), ([], ["--cycles-device", "CPU"])):
        spec = warm_spec("/b", "/s/a.blend", {"scene": "A", "extra": extra, "after": after}, 1, 2, 1, "/o", None)
        assert spec is not None and spec.blank_key is None
    gpu = warm_spec("/b", "/s/a.blend", {"scene": "A", "extra": [], "after": []}, 1, 2, 1, "/o", "CUDA:0")
    assert gpu is not None and gpu.blank_key == blank_spec("/b", "CUDA:0").key != blank.key
