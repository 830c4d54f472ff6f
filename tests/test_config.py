"""Run presets: the shipped TOML files, how names and paths resolve, overrides, and every way a
config can be wrong ending in one ConfigError that names the file, the key and the value."""

from __future__ import annotations

import dataclasses

import pytest

from streamsee.core.config import CONFIG_DIR, PRESETS, RULES, ConfigError, RunConfig, load_config


def write(tmp_path, text: str, name: str = "run.toml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize("name", PRESETS)
def test_every_shipped_preset_loads(name):
    assert isinstance(load_config(name), RunConfig)


def test_presets_are_exactly_the_shipped_files():
    assert sorted(path.stem for path in CONFIG_DIR.glob("*.toml")) == sorted(PRESETS)


def test_default_preset_is_the_defaults_and_the_others_differ():
    assert load_config("default") == RunConfig()
    assert load_config("fast") != RunConfig()
    assert load_config("accurate") != RunConfig()
    fast, accurate = load_config("fast"), load_config("accurate")
    assert fast.working_width < RunConfig().working_width <= accurate.working_width
    assert fast.budget_ms < RunConfig().budget_ms < accurate.budget_ms


def test_choices_agree_with_the_modules_they_copy():
    from streamsee.core import config
    from streamsee.live import analyser as analyse
    from streamsee.recognition import proposals, variants

    assert config.MODES == analyse.MODES
    assert config.PROPOSAL_METHODS == proposals.PROPOSAL_METHODS
    assert config.RUNTIMES == variants.RUNTIMES


def test_default_working_width_is_the_measured_one():
    from streamsee.recognition import fcn

    assert RunConfig().working_width == load_config("default").working_width == fcn.WORKING_WIDTH
    # the objectness FCN is off unless asked for (recognition.segmenter: measured on real footage)
    assert RunConfig().objectness_width is load_config("default").objectness_width is load_config("fast").objectness_width is None
    assert RunConfig(objectness_width=fcn.OBJECTNESS_WIDTH).objectness_width == 256


def test_every_field_has_a_rule():
    assert [field.name for field in dataclasses.fields(RunConfig)] == list(RULES)


def test_bare_name_and_path_give_the_same_config(tmp_path, monkeypatch):
    by_name = load_config("fast")
    assert load_config(CONFIG_DIR / "fast.toml") == by_name
    assert load_config(str(CONFIG_DIR / "fast.toml")) == by_name
    monkeypatch.chdir(tmp_path)
    write(tmp_path, "working_width = 128\n", "mine.toml")
    assert load_config("mine.toml").working_width == 128  # a suffix makes it a path, from the working folder


def test_keys_left_out_keep_their_defaults(tmp_path):
    config = load_config(write(tmp_path, "queue_size = 8\n"))
    assert config == RunConfig(queue_size=8)
    assert config.min_score is None


def test_overrides_win_and_none_does_not_override():
    fast = load_config("fast")
    config = fast.replace(working_width=256, budget_ms=None, mode=None, hud=False, min_score=0.4)
    assert (config.working_width, config.hud, config.min_score) == (256, False, 0.4)
    assert (config.budget_ms, config.mode, config.queue_size) == (fast.budget_ms, fast.mode, fast.queue_size)
    assert fast.working_width == 96  # the preset itself is unchanged


def test_overrides_are_checked():
    with pytest.raises(ConfigError, match=r"working_width .* not 100\b"):
        RunConfig().replace(working_width=100)


def test_ints_are_accepted_for_floats_and_stored_as_floats(tmp_path):
    config = load_config(write(tmp_path, "budget_ms = 100\ntimeout_s = 2\n"))
    assert config.budget_ms == 100.0 and isinstance(config.budget_ms, float)
    assert isinstance(config.timeout_s, float)


def test_to_dict_round_trips():
    config = load_config("accurate").replace(min_score=0.3)
    assert list(config.to_dict()) == list(RULES)
    assert RunConfig(**config.to_dict()) == config


def test_unknown_key_is_named_with_the_known_ones(tmp_path):
    path = write(tmp_path, 'mode = "boxes"\nworking-width = 320\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "'working-width'" in message and str(path) in message
    assert all(key in message for key in RULES)


@pytest.mark.parametrize("key, toml, shown", [
    ("mode", '"detect"', "'detect'"),
    ("proposals", '"selective"', "'selective'"),
    ("working_width", "true", "True"),
    ("queue_size", "true", "True"),         # a bool is not an int, though True == 1 is in range
    ("working_width", "224.0", "224.0"),    # nor is a float
    ("working_width", "100", "100"),        # not a multiple of 8
    ("working_width", "56", "56"),
    ("working_width", "1928", "1928"),
    ("objectness_width", "100", "100"),
    ("min_score", "0", "0"),
    ("min_score", "1.0", "1.0"),
    ("min_score", '"calibrated"', "'calibrated'"),
    ("budget_ms", "-3", "-3"),
    ("budget_ms", '"250"', "'250'"),        # a string is not a number
    ("budget_ms", "nan", "nan"),
    ("budget_ms", "inf", "inf"),
    ("budget_ms", "true", "True"),          # nor a number
    ("queue_size", "0", "0"),
    ("queue_size", "65", "65"),
    ("hud", "1", "1"),                      # an int is not a bool
    ("display", '"yes"', "'yes'"),
    ("realtime", "0", "0"),
    ("timeout_s", "0", "0"),
    ("serve", '"99999"', "'99999'"),        # the port out of range
    ("serve", "8080", "8080"),              # a number is not "[HOST:]PORT"
    ("serve", '"a host:8080"', "'a host:8080'"),
    ("serve_token", '"short"', "'short'"),
])
def test_bad_value_names_file_key_and_value(tmp_path, key, toml, shown):
    path = write(tmp_path, f"{key} = {toml}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"config {str(path)!r}: {key} must be ")
    assert message.endswith(f", not {shown}")
    assert "\n" not in message


def test_bad_value_in_code_is_a_value_error():
    with pytest.raises(ValueError, match=r"^budget_ms must be a number > 0, not -3$"):
        RunConfig(budget_ms=-3)


def test_broken_toml_names_the_file_and_the_line(tmp_path):
    path = write(tmp_path, 'mode = "boxes"\nworking_width = \n')
    with pytest.raises(ConfigError, match=r"line 2") as caught:
        load_config(path)
    assert str(path) in str(caught.value)


def test_missing_preset_lists_the_presets():
    with pytest.raises(FileNotFoundError, match=r"no config 'turbo': give a path or one of default, fast, accurate"):
        load_config("turbo")


def test_missing_path_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.toml"):
        load_config(tmp_path / "nowhere.toml")
