"""Every rule of the sweep file: the key, the value and what is allowed, in one line each."""

import pytest

from ciminus.validate import SpecError, parse_sweep

BASE = """
name = "v"
[workload]
network = "resnet18"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(SpecError) as err:
        parse_sweep(text)
    return [str(p) for p in err.value.problems]


def one(text: str) -> str:
    got = problems(text)
    assert len(got) == 1, got
    return got[0]


def test_a_good_file_passes():
    sweep = parse_sweep(BASE + "[arch]\nmacros = [4, 8]\n[sparsity]\npattern = 'row-block'\nratio = [0.0, 0.5]\n")
    assert sweep.shape == (2, 2) and [a.key for a in sweep.axes] == ["macros", "ratio"]


def test_unknown_key_suggests_the_closest():
    assert one(BASE + "[arch]\nmacro = 8\n").startswith("arch.macro = 8: unknown key (did you mean 'macros'?); allowed: keys of [arch]: template, macros,")


def test_unknown_table():
    assert one(BASE + "[archh]\nmacros = 8\n").startswith("archh = {macros = 8}: unknown key (did you mean 'arch'?); allowed: top-level keys")


def test_out_of_range():
    assert one(BASE + "[arch]\nmacros = 0\n") == "arch.macros = 0: out of range; allowed: an integer from 1 to 65536"
    assert one(BASE + "[sparsity]\nratio = 1.0\n") == "sparsity.ratio = 1.0: out of range; allowed: a number >= 0 and < 1"
    assert one(BASE + "[arch]\ninput_buffer_kb = 0\n") == \
        "arch.input_buffer_kb = 0: out of range; allowed: a number > 0 and <= 1000000000 (KiB)"


def test_wrong_type():
    assert one(BASE + '[arch]\nmacros = "eight"\n') == \
        'arch.macros = "eight": wrong type (a string); allowed: an integer from 1 to 65536'
    assert one(BASE + "[arch]\ndouble_buffer = 1\n") == \
        "arch.double_buffer = 1: wrong type (an integer); allowed: true or false"
    assert one(BASE + "[arch]\nmacros = 4.5\n") == "arch.macros = 4.5: not an integer; allowed: an integer from 1 to 65536"


def test_bad_choice_suggests_the_closest():
    assert one(BASE + '[sparsity]\npattern = "row-blok"\n').startswith(
        'sparsity.pattern = "row-blok": not allowed (did you mean "row-block"?); allowed: one of "dense", "row-wise"')
    assert one(BASE.replace("resnet18", "resnet19")).startswith(
        'workload.network = "resnet19": not allowed (did you mean "resnet18"?); allowed: one of "vgg16"')


def test_a_swept_element_is_named_by_its_index():
    assert one(BASE + "[arch]\nmacros = [4, -1]\n") == "arch.macros[1] = -1: out of range; allowed: an integer from 1 to 65536"
    assert one(BASE + "[arch]\nmacros = [4, 4]\n") == "arch.macros[1] = 4: repeated value in a swept list; allowed: each value once"
    assert one(BASE + "[arch]\nmacros = []\n").startswith("arch.macros = []: empty list;")


def test_keys_that_cannot_be_swept():
    assert one(BASE + '[mapping]\nobjective = ["energy", "edp"]\n').startswith(
        'mapping.objective = ["energy", "edp"]: cannot be swept; allowed: one value: one of "energy", "latency", "edp"')


def test_grid_must_hold_the_macros():
    assert one(BASE + '[arch]\nmacros = 8\n[mapping]\nmacro_grid = "4x4"\n') == \
        'mapping.macro_grid = "4x4": 4 x 4 = 16 macros, but arch.macros = 8; allowed: a grid with as many macros as arch.macros, "square" or "auto"'
    assert one(BASE + '[mapping]\nmacro_grid = "four by two"\n') == \
        'mapping.macro_grid = "four by two": not a grid; allowed: "ROWSxCOLS" such as "4x2", "square" or "auto"'
    # A candidate list may mix grids as long as each fits some point.
    parse_sweep(BASE + '[arch]\nmacros = [8, 16]\n[mapping]\nmacro_grid = ["4x2", "4x4"]\n')


def test_template_values_take_part_in_combinations():
    # digital-28nm has 8 macros: a 16-macro grid cannot hold them.
    assert one(BASE + '[mapping]\nmacro_grid = "4x4"\n').startswith('mapping.macro_grid = "4x4": 4 x 4 = 16 macros, but arch.macros = 8')


def test_subarray_must_divide_the_array():
    assert one(BASE + "[arch]\nsubarray_rows = 24\n") == \
        "arch.subarray_rows = 24: does not divide arch.array_rows = 32; allowed: a divisor of 32"


def test_intrablock_keeps_at_most_a_segment():
    assert one(BASE + '[sparsity]\npattern = "hybrid"\nnm_n = 5\nnm_m = 4\n') == \
        "sparsity.nm_n = 5: keeps more than the segment length sparsity.nm_m = 4; allowed: an integer from 1 to 4"


def test_intrablock_needs_row_compression():
    assert one(BASE + '[sparsity]\npattern = "nm"\n[mapping]\ncompress = "col"\n') == \
        'mapping.compress = "col": IntraBlock pattern "nm" selects inputs per column and needs row compression; allowed: "row" or "auto"'


def test_block_size_of_a_pattern_that_has_none():
    assert one(BASE + '[sparsity]\npattern = "row-wise"\nblock_cols = 8\n') == \
        'sparsity.block_cols = 8: not used by pattern "row-wise"; allowed: only with pattern "row-block", "hybrid", "flexblock"'


def test_workload_needs_exactly_one_source():
    assert one('name = "v"\n[arch]\nmacros = 8\n').startswith("workload.network: missing; allowed: a built-in network (vgg16")
    layer = '\n[[workload.layer]]\nname = "a"\nC = 8\nK = 8\n'
    assert one(BASE + layer).startswith('workload.layer = "[[workload.layer]]": given together with workload.network')


def test_inline_layer_rules():
    head = 'name = "v"\n[[workload.layer]]\n'
    assert one(head + "C = 8\nK = 6\ngroups = 4\n") == \
        "workload.layer[0].groups = 4: does not divide C = 8 and K = 6; allowed: a common divisor of C and K"
    assert one(head + 'kind = "linear"\nC = 8\nK = 8\nR = 3\n') == \
        'workload.layer[0].R = 3: not used by a linear layer; allowed: 1 (or kind = "conv")'
    assert one(head + "C = 8\nK = 8\nR = 5\nH = 3\nW = 8\n") == \
        "workload.layer[0].H = 3: smaller than the dilated kernel (no output pixel); allowed: H + 2*pad >= dilation*(R-1) + 1 and likewise for W"
    assert one(head + "C = 8\nK = 8\nchanels = 3\n").startswith("workload.layer[0].chanels = 3: unknown key")
    assert one(head + "K = 8\n") == "workload.layer[0].C: missing; allowed: an integer from 1 to 16777216"
    assert one(head + 'name = "a"\nC = 8\nK = 8\n[[workload.layer]]\nname = "a"\nC = 8\nK = 8\n') == \
        'workload.layer[1].name = "a": repeated layer name; allowed: a name no other layer has'


def test_layer_input_density_names_real_layers():
    assert one(BASE + "[sparsity.layer_input_density]\nconv2 = 0.5\n").startswith(
        "sparsity.layer_input_density.conv2 = 0.5: unknown layer (did you mean 'conv1'?)")
    assert one(BASE + "[sparsity.layer_input_density]\nconv1 = 0\n") == \
        "sparsity.layer_input_density.conv1 = 0: out of range; allowed: a number > 0 and <= 1"


def test_per_layer_results_need_one_layer_list():
    assert one(BASE.replace('"resnet18"', '["resnet18", "vgg16"]') + "[output]\nper_layer = true\n").startswith(
        "output.per_layer = true: needs one layer list")


def test_every_problem_is_reported_at_once():
    got = problems(BASE + "[arch]\nmacros = 0\nweight_bits = 99\n[sparsity]\npattern = 'x'\n")
    assert [g.split(" =")[0] for g in got] == ["arch.macros", "arch.weight_bits", "sparsity.pattern"]


def test_invalid_toml():
    assert one("name = \n").startswith("<string>: invalid TOML (")
