"""Templates: complete, cited, and faithful to the published figures."""

import dataclasses

import pytest

from ciminus.specs import ArchSpec, EnergySpec
from ciminus.specs.fields import spec_fields
from ciminus.templates import TEMPLATE_NAMES, template_path, template_table


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_every_template_sets_every_required_key_validly(name):
    for cls, table in ((ArchSpec, "arch"), (EnergySpec, "energy")):
        values = template_table(name, table)
        fields = spec_fields(cls)
        assert set(values) <= set(fields), set(values) - set(fields)
        for f in dataclasses.fields(cls):
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                assert f.name in values or f.name == "template", (name, f.name)
        for key, v in values.items():
            assert fields[key].problem(v) is None, (name, key, v)
        assert "freq_mhz" not in values  # latency in cycles unless the user gives a clock
    text = template_path(name).read_text()
    assert "Source:" in text or "source" in text


def test_digital_28nm_matches_the_published_template():
    arch, energy = template_table("digital-28nm", "arch"), template_table("digital-28nm", "energy")
    assert (arch["macros"], arch["array_rows"], arch["array_cols"]) == (8, 32, 16)
    assert (arch["weight_bits"], arch["input_bits"], arch["input_bits_per_cycle"], arch["psum_bits"]) == (8, 8, 1, 16)
    assert (arch["input_buffer_kb"], arch["output_buffer_kb"], arch["global_buffer_kb"]) == (8, 16, 256)
    assert energy["mult_1b_pj"] == 0.0002835 and energy["add_1b_pj"] == 0.003402 and energy["reg_1b_pj"] == 0.001701
    assert energy["leakage_pj_per_cycle_per_macro"] * 8 == pytest.approx(35.9309)  # 0.0359309 nJ/cycle
    assert energy["dram_read_pj_per_bit"] == 7.91 and energy["global_buffer_read_pj_per_bit"] == 0.197874


def test_case_study_hardware():
    arch = template_table("ciminus-case-study", "arch")
    assert (arch["array_rows"], arch["array_cols"], arch["subarray_rows"], arch["subarray_cols"]) == (1024, 32, 32, 32)
    assert arch["macros"] == 4 and arch["weight_bits"] == arch["input_bits"] == 8
