"""Shape tests for the built-in networks.

The exact integers below were checked independently of ``networks.py``: adding the batch-norm
parameters (2 per channel) and biases back onto the weight counts reproduces torchvision's published
parameter counts exactly, and VGG16's MACs are recomputed here in closed form. The transformer totals
are written out from the architecture (12 blocks of 4 x 768 x 768 + 2 x 768 x 3072 weights, two
per-head attention products of 64 x L x L each) and, with the biases, layer norms and embeddings added
back, reproduce the published parameter counts of HuggingFace's ``bert-base-uncased`` and torchvision's
``vit_b_16`` exactly.
"""

from __future__ import annotations

import math

import pytest

from ciminus.workloads.layers import Layer
from ciminus.workloads.networks import (
    CNN_NAMES,
    DATASETS,
    INPUT_SIZES,
    NETWORK_NAMES,
    NUM_CLASSES,
    TRANSFORMER_NAMES,
    builtin_network,
)

ALL = [(n, d) for n in CNN_NAMES for d in DATASETS]  # every CNN exists for every dataset


def by_name(layers: tuple[Layer, ...]) -> dict[str, Layer]:
    return {layer.name: layer for layer in layers}


def total_weights(layers: tuple[Layer, ...]) -> int:
    """Static (trained) weights; a dynamic operand is an activation, not a parameter."""
    return sum(layer.weights * layer.count for layer in layers if not layer.dynamic)


def total_macs(layers: tuple[Layer, ...]) -> int:
    return sum(layer.macs * layer.count for layer in layers)


# ----- counts and totals -------------------------------------------------------------------------

@pytest.mark.parametrize("name, n_conv, n_linear", [
    ("resnet18", 20, 1), ("resnet50", 53, 1), ("vgg16", 13, 3), ("mobilenetv2", 52, 1),
])
def test_layer_counts_imagenet(name: str, n_conv: int, n_linear: int) -> None:
    layers = builtin_network(name)
    assert sum(layer.kind == "conv" for layer in layers) == n_conv
    assert sum(layer.kind == "linear" for layer in layers) == n_linear
    assert len(layers) == n_conv + n_linear


@pytest.mark.parametrize("name, n_layers", [
    ("resnet18", 21), ("resnet50", 54), ("vgg16", 14), ("mobilenetv2", 53),
])
@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_layer_counts_cifar(name: str, n_layers: int, dataset: str) -> None:
    assert len(builtin_network(name, dataset)) == n_layers


def test_downsample_counts() -> None:
    assert sum("downsample" in l.name for l in builtin_network("resnet18")) == 3
    assert sum("downsample" in l.name for l in builtin_network("resnet50")) == 4
    assert sum("downsample" in l.name for l in builtin_network("resnet18", "cifar10")) == 3
    assert sum("downsample" in l.name for l in builtin_network("resnet50", "cifar10")) == 4


EXACT = {
    # (network, dataset): (weights, MACs per sample); weights exclude biases and batch norm.
    ("vgg16", "imagenet"): (138_344_128, 15_470_264_320),
    ("resnet18", "imagenet"): (11_678_912, 1_814_073_344),
    ("resnet50", "imagenet"): (25_502_912, 4_089_184_256),
    ("mobilenetv2", "imagenet"): (3_469_760, 300_774_272),
    ("vgg16", "cifar10"): (14_715_584, 313_201_664),
    ("resnet18", "cifar10"): (11_164_352, 555_422_720),
    ("resnet50", "cifar10"): (23_467_712, 1_297_829_888),
    ("mobilenetv2", "cifar10"): (2_202_560, 87_976_448),
    ("vgg16", "cifar100"): (14_761_664, 313_247_744),
    ("resnet18", "cifar100"): (11_210_432, 555_468_800),
    ("resnet50", "cifar100"): (23_652_032, 1_298_014_208),
    ("mobilenetv2", "cifar100"): (2_317_760, 88_091_648),
}


@pytest.mark.parametrize("name, dataset", ALL)
def test_exact_totals(name: str, dataset: str) -> None:
    layers = builtin_network(name, dataset)
    assert (total_weights(layers), total_macs(layers)) == EXACT[(name, dataset)]


@pytest.mark.parametrize("name, params, macs", [
    # torchvision's published parameter counts (exact) and GFLOPS (= G multiply-accumulates).
    ("resnet18", 11_689_512, 1.814e9),
    ("resnet50", 25_557_032, 4.09e9),
    ("vgg16", 138_357_544, 15.47e9),
    ("mobilenetv2", 3_504_872, 0.300e9),
])
def test_against_published_imagenet(name: str, params: int, macs: float) -> None:
    layers = builtin_network(name)
    weights = total_weights(layers)
    assert weights == pytest.approx(params, rel=0.02)  # published counts include BN and biases
    assert total_macs(layers) == pytest.approx(macs, rel=0.005)
    # Exact reconstruction: VGG16 has a bias on every layer and no BN; ResNet / MobileNetV2 follow
    # every conv by a batch norm (scale + shift per channel) and only the classifier has a bias.
    if name == "vgg16":
        extra = sum(layer.K for layer in layers)
    else:
        extra = 2 * sum(l.K for l in layers if l.kind == "conv") + layers[-1].K
    assert weights + extra == params


def test_vgg16_macs_closed_form() -> None:
    conv = 9 * (224**2 * (3 * 64 + 64 * 64)
                + 112**2 * (64 * 128 + 128 * 128)
                + 56**2 * (128 * 256 + 2 * 256 * 256)
                + 28**2 * (256 * 512 + 2 * 512 * 512)
                + 14**2 * (3 * 512 * 512))
    fc = 25088 * 4096 + 4096 * 4096 + 4096 * 1000
    assert total_macs(builtin_network("vgg16")) == conv + fc


def test_cifar_variants_differ_only_in_classifier() -> None:
    for name in CNN_NAMES:
        a, b = builtin_network(name, "cifar10"), builtin_network(name, "cifar100")
        assert a[:-1] == b[:-1]
        assert (a[-1].K, b[-1].K) == (10, 100)
        assert a[-1].C == b[-1].C


# ----- names -------------------------------------------------------------------------------------

def test_resnet18_names() -> None:
    expected = ["conv1"]
    for stage in range(1, 5):
        for block in range(2):
            expected += [f"layer{stage}.{block}.conv1", f"layer{stage}.{block}.conv2"]
            if block == 0 and stage > 1:
                expected.append(f"layer{stage}.0.downsample.0")
    expected.append("fc")
    for dataset in DATASETS:
        assert [l.name for l in builtin_network("resnet18", dataset)] == expected


def test_resnet50_names() -> None:
    expected = ["conv1"]
    for stage, blocks in enumerate((3, 4, 6, 3), start=1):
        for block in range(blocks):
            expected += [f"layer{stage}.{block}.conv{i}" for i in (1, 2, 3)]
            if block == 0:
                expected.append(f"layer{stage}.0.downsample.0")
    expected.append("fc")
    assert [l.name for l in builtin_network("resnet50")] == expected


def test_vgg16_names() -> None:
    convs = [f"features.{i}" for i in (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)]
    assert [l.name for l in builtin_network("vgg16")] == convs + [
        "classifier.0", "classifier.3", "classifier.6"]
    assert [l.name for l in builtin_network("vgg16", "cifar10")] == convs + ["classifier"]


def test_mobilenetv2_names() -> None:
    expected = ["features.0.0", "features.1.conv.0.0", "features.1.conv.1"]
    for block in range(2, 18):
        expected += [f"features.{block}.conv.{s}" for s in ("0.0", "1.0", "2")]
    expected += ["features.18.0", "classifier.1"]
    for dataset in DATASETS:
        assert [l.name for l in builtin_network("mobilenetv2", dataset)] == expected


@pytest.mark.parametrize("name, dataset", ALL)
def test_names_unique_and_records_plain(name: str, dataset: str) -> None:
    layers = builtin_network(name, dataset)
    assert len({l.name for l in layers}) == len(layers)
    for l in layers:
        assert l.kind in ("conv", "linear")
        assert l.count == 1 and l.tokens == 1 and l.dilation == 1
        assert not l.dynamic and l.input_density is None
        assert l.C % l.groups == 0 and l.K % l.groups == 0
        if l.kind == "linear":
            assert (l.R, l.S, l.H, l.W, l.stride, l.pad, l.groups) == (1, 1, 1, 1, 1, 0, 1)
        else:
            assert l.R == l.S and l.H == l.W and l.pad == l.R // 2  # "same" padding throughout


# ----- chain checks ------------------------------------------------------------------------------

def pooled_before(name: str, dataset: str, layer: str) -> tuple[int, int, int] | None:
    """(kernel, stride, pad) of a max-pool that precedes ``layer`` on the main path, if any."""
    if name == "vgg16" and layer in ("features.5", "features.10", "features.17", "features.24"):
        return (2, 2, 0)
    if name.startswith("resnet") and dataset == "imagenet" and layer == "layer1.0.conv1":
        return (3, 2, 1)
    return None


@pytest.mark.parametrize("name, dataset", ALL)
def test_main_path_chain(name: str, dataset: str) -> None:
    layers = builtin_network(name, dataset)
    main = [l for l in layers if l.kind == "conv" and "downsample" not in l.name]
    assert main[0].C == 3 and main[0].H == INPUT_SIZES[dataset]
    for prev, cur in zip(main, main[1:]):
        assert cur.C == prev.K, (prev.name, cur.name)
        pool = pooled_before(name, dataset, cur.name)
        size = prev.E if pool is None else (prev.E + 2 * pool[2] - pool[0]) // pool[1] + 1
        assert cur.H == size, (prev.name, cur.name)
    linears = [l for l in layers if l.kind == "linear"]
    last = main[-1]
    if name == "vgg16":
        # Fifth 2x2 pool, then (ImageNet) the 7x7 adaptive pool and flatten.
        side = last.E // 2
        assert linears[0].C == last.K * side * side
    else:
        assert linears[0].C == last.K  # global average pool
    for prev, cur in zip(linears, linears[1:]):
        assert cur.C == prev.K
    assert linears[-1].K == NUM_CLASSES[dataset]
    assert layers[-1] is linears[-1]


@pytest.mark.parametrize("name, dataset", ALL)
def test_final_feature_map(name: str, dataset: str) -> None:
    """Catches a stride put in the wrong place or dropped: the total down-sampling is fixed."""
    last = [l for l in builtin_network(name, dataset) if l.kind == "conv"][-1]
    expected = {
        ("vgg16", "imagenet"): 14, ("vgg16", "cifar10"): 2, ("vgg16", "cifar100"): 2,
    }.get((name, dataset), 7 if dataset == "imagenet" else 4)
    assert last.E == last.F == expected


@pytest.mark.parametrize("name, dataset", [(n, d) for n in ("resnet18", "resnet50") for d in DATASETS])
def test_resnet_blocks_and_shortcuts(name: str, dataset: str) -> None:
    layers = builtin_network(name, dataset)
    blocks: dict[str, list[Layer]] = {}
    for l in layers:
        if l.name.startswith("layer"):
            blocks.setdefault(l.name.rsplit(".", 1)[0].removesuffix(".downsample"), []).append(l)
    assert len(blocks) == (8 if name == "resnet18" else 16)
    for prefix, block in blocks.items():
        convs = [l for l in block if "downsample" not in l.name]
        first, last = convs[0], convs[-1]
        stride = max(l.stride for l in convs)
        shortcut = [l for l in block if "downsample" in l.name]
        if shortcut:
            (ds,) = shortcut
            assert block[-1] is ds  # runs after the main path of its block
            assert (ds.R, ds.S, ds.pad, ds.groups) == (1, 1, 0, 1)
            assert (ds.C, ds.H, ds.stride) == (first.C, first.H, stride)
            assert (ds.K, ds.E, ds.F) == (last.K, last.E, last.F)
        else:  # identity shortcut: the block must preserve its input shape
            assert (first.C, first.H, stride) == (last.K, last.E, 1), prefix
    if name == "resnet50":  # v1.5: stride on the 3x3, never on the 1x1s of the main path
        for l in layers:
            if l.kind == "conv" and l.R == 1 and "downsample" not in l.name:
                assert l.stride == 1, l.name


EXPECTED_SIDES = {
    # Output side of the main-path convs of each ResNet stage.
    "imagenet": {"conv1": 112, "layer1": 56, "layer2": 28, "layer3": 14, "layer4": 7},
    "cifar10": {"conv1": 32, "layer1": 32, "layer2": 16, "layer3": 8, "layer4": 4},
}


@pytest.mark.parametrize("name", ["resnet18", "resnet50"])
@pytest.mark.parametrize("dataset", ["imagenet", "cifar10"])
def test_resnet_stage_sides(name: str, dataset: str) -> None:
    sides = EXPECTED_SIDES[dataset]
    stages = list(sides)
    for l in builtin_network(name, dataset):
        if l.kind != "conv":
            continue
        stage = l.name.split(".")[0]
        if name == "resnet50" and l.name.endswith(".0.conv1") and stage != "layer1":
            # v1.5: the first 1x1 of a stage still runs at the previous stage's resolution.
            stage = stages[stages.index(stage) - 1]
        assert l.E == l.F == sides[stage], l.name


@pytest.mark.parametrize("dataset, n_stride2, sides", [
    ("imagenet", 5, (112, 112, 56, 28, 14, 14, 7, 7)),
    ("cifar10", 3, (32, 32, 32, 16, 8, 8, 4, 4)),
])
def test_mobilenetv2_structure(dataset: str, n_stride2: int, sides: tuple[int, ...]) -> None:
    layers = builtin_network("mobilenetv2", dataset)
    d = by_name(layers)
    depthwise = [l for l in layers if l.groups > 1]
    assert len(depthwise) == 17
    for l in depthwise:
        assert l.groups == l.C == l.K and (l.R, l.S, l.pad) == (3, 3, 1)
        assert l.rows == 9 and l.cols == 1
    assert sum(l.stride == 2 for l in layers) == n_stride2
    assert all(l.stride == 1 for l in layers if l.R == 1)
    # Output side after the stem, then after each of the seven stages, then the last 1x1 conv.
    last_block = [1, 3, 6, 10, 13, 16, 17]
    got = [d["features.0.0"].E] + [d[f"features.{b}.conv.{'1' if b == 1 else '2'}"].E
                                   for b in last_block]
    assert tuple(got) == sides
    assert d["features.18.0"].E == sides[-1]
    # Stage output channels and expansion widths.
    outs = [d[f"features.{b}.conv.{'1' if b == 1 else '2'}"].K for b in last_block]
    assert outs == [16, 24, 32, 64, 96, 160, 320]
    for b in range(2, 18):
        expand, dw = d[f"features.{b}.conv.0.0"], d[f"features.{b}.conv.1.0"]
        assert expand.K == 6 * expand.C == dw.C
    assert d["features.18.0"].K == 1280 and d["classifier.1"].C == 1280


# ----- spot checks -------------------------------------------------------------------------------

def shape(l: Layer) -> tuple[int, ...]:
    return (l.C, l.K, l.R, l.S, l.H, l.W, l.stride, l.pad, l.groups, l.E, l.F)


@pytest.mark.parametrize("name, dataset, layer, expected", [
    # name, dataset, layer: (C, K, R, S, H, W, stride, pad, groups, E, F)
    ("resnet18", "imagenet", "conv1", (3, 64, 7, 7, 224, 224, 2, 3, 1, 112, 112)),
    ("resnet18", "imagenet", "layer1.0.conv1", (64, 64, 3, 3, 56, 56, 1, 1, 1, 56, 56)),
    ("resnet18", "imagenet", "layer2.0.conv1", (64, 128, 3, 3, 56, 56, 2, 1, 1, 28, 28)),
    ("resnet18", "imagenet", "layer2.0.conv2", (128, 128, 3, 3, 28, 28, 1, 1, 1, 28, 28)),
    ("resnet18", "imagenet", "layer2.0.downsample.0", (64, 128, 1, 1, 56, 56, 2, 0, 1, 28, 28)),
    ("resnet18", "imagenet", "layer4.1.conv2", (512, 512, 3, 3, 7, 7, 1, 1, 1, 7, 7)),
    ("resnet18", "cifar10", "conv1", (3, 64, 3, 3, 32, 32, 1, 1, 1, 32, 32)),
    ("resnet18", "cifar10", "layer1.0.conv1", (64, 64, 3, 3, 32, 32, 1, 1, 1, 32, 32)),
    ("resnet18", "cifar10", "layer4.0.downsample.0", (256, 512, 1, 1, 8, 8, 2, 0, 1, 4, 4)),
    ("resnet50", "imagenet", "layer1.0.conv1", (64, 64, 1, 1, 56, 56, 1, 0, 1, 56, 56)),
    ("resnet50", "imagenet", "layer1.0.downsample.0", (64, 256, 1, 1, 56, 56, 1, 0, 1, 56, 56)),
    ("resnet50", "imagenet", "layer1.1.conv1", (256, 64, 1, 1, 56, 56, 1, 0, 1, 56, 56)),
    ("resnet50", "imagenet", "layer2.0.conv1", (256, 128, 1, 1, 56, 56, 1, 0, 1, 56, 56)),
    ("resnet50", "imagenet", "layer2.0.conv2", (128, 128, 3, 3, 56, 56, 2, 1, 1, 28, 28)),
    ("resnet50", "imagenet", "layer2.0.conv3", (128, 512, 1, 1, 28, 28, 1, 0, 1, 28, 28)),
    ("resnet50", "imagenet", "layer2.0.downsample.0", (256, 512, 1, 1, 56, 56, 2, 0, 1, 28, 28)),
    ("resnet50", "imagenet", "layer4.2.conv3", (512, 2048, 1, 1, 7, 7, 1, 0, 1, 7, 7)),
    ("resnet50", "cifar100", "layer3.0.conv2", (256, 256, 3, 3, 16, 16, 2, 1, 1, 8, 8)),
    ("vgg16", "imagenet", "features.0", (3, 64, 3, 3, 224, 224, 1, 1, 1, 224, 224)),
    ("vgg16", "imagenet", "features.5", (64, 128, 3, 3, 112, 112, 1, 1, 1, 112, 112)),
    ("vgg16", "imagenet", "features.28", (512, 512, 3, 3, 14, 14, 1, 1, 1, 14, 14)),
    ("vgg16", "imagenet", "features.17", (256, 512, 3, 3, 28, 28, 1, 1, 1, 28, 28)),
    ("vgg16", "cifar10", "features.17", (256, 512, 3, 3, 4, 4, 1, 1, 1, 4, 4)),
    ("vgg16", "cifar10", "features.24", (512, 512, 3, 3, 2, 2, 1, 1, 1, 2, 2)),
    ("mobilenetv2", "imagenet", "features.0.0", (3, 32, 3, 3, 224, 224, 2, 1, 1, 112, 112)),
    ("mobilenetv2", "imagenet", "features.1.conv.0.0", (32, 32, 3, 3, 112, 112, 1, 1, 32, 112, 112)),
    ("mobilenetv2", "imagenet", "features.1.conv.1", (32, 16, 1, 1, 112, 112, 1, 0, 1, 112, 112)),
    ("mobilenetv2", "imagenet", "features.2.conv.0.0", (16, 96, 1, 1, 112, 112, 1, 0, 1, 112, 112)),
    ("mobilenetv2", "imagenet", "features.2.conv.1.0", (96, 96, 3, 3, 112, 112, 2, 1, 96, 56, 56)),
    ("mobilenetv2", "imagenet", "features.14.conv.1.0", (576, 576, 3, 3, 14, 14, 2, 1, 576, 7, 7)),
    ("mobilenetv2", "imagenet", "features.17.conv.2", (960, 320, 1, 1, 7, 7, 1, 0, 1, 7, 7)),
    ("mobilenetv2", "imagenet", "features.18.0", (320, 1280, 1, 1, 7, 7, 1, 0, 1, 7, 7)),
    ("mobilenetv2", "cifar10", "features.0.0", (3, 32, 3, 3, 32, 32, 1, 1, 1, 32, 32)),
    ("mobilenetv2", "cifar10", "features.2.conv.1.0", (96, 96, 3, 3, 32, 32, 1, 1, 96, 32, 32)),
    ("mobilenetv2", "cifar10", "features.4.conv.1.0", (144, 144, 3, 3, 32, 32, 2, 1, 144, 16, 16)),
])
def test_conv_spot_checks(name: str, dataset: str, layer: str, expected: tuple[int, ...]) -> None:
    assert shape(by_name(builtin_network(name, dataset))[layer]) == expected


@pytest.mark.parametrize("name, dataset, layer, c, k", [
    ("vgg16", "imagenet", "classifier.0", 25088, 4096),
    ("vgg16", "imagenet", "classifier.3", 4096, 4096),
    ("vgg16", "imagenet", "classifier.6", 4096, 1000),
    ("vgg16", "cifar10", "classifier", 512, 10),
    ("vgg16", "cifar100", "classifier", 512, 100),
    ("resnet18", "imagenet", "fc", 512, 1000),
    ("resnet18", "cifar10", "fc", 512, 10),
    ("resnet50", "imagenet", "fc", 2048, 1000),
    ("resnet50", "cifar100", "fc", 2048, 100),
    ("mobilenetv2", "imagenet", "classifier.1", 1280, 1000),
    ("mobilenetv2", "cifar10", "classifier.1", 1280, 10),
])
def test_linear_spot_checks(name: str, dataset: str, layer: str, c: int, k: int) -> None:
    l = by_name(builtin_network(name, dataset))[layer]
    assert (l.kind, l.C, l.K, l.tokens, l.vectors) == ("linear", c, k, 1, 1)
    assert l.macs == l.weights == c * k


# ----- API ---------------------------------------------------------------------------------------

def test_constants() -> None:
    assert DATASETS == ("imagenet", "cifar10", "cifar100")
    assert CNN_NAMES == ("vgg16", "resnet18", "resnet50", "mobilenetv2")
    assert TRANSFORMER_NAMES == ("bert-base", "vit-b16")
    assert NETWORK_NAMES == CNN_NAMES + TRANSFORMER_NAMES
    assert INPUT_SIZES == {"imagenet": 224, "cifar10": 32, "cifar100": 32}
    assert NUM_CLASSES == {"imagenet": 1000, "cifar10": 10, "cifar100": 100}


def test_default_dataset_and_cache() -> None:
    a = builtin_network("resnet18")
    assert a is builtin_network("resnet18", "imagenet")
    assert isinstance(a, tuple) and all(isinstance(l, Layer) for l in a)


def test_unknown_network_lists_names() -> None:
    with pytest.raises(KeyError) as info:
        builtin_network("resnet34")
    assert "resnet34" in str(info.value)
    assert all(n in str(info.value) for n in NETWORK_NAMES)


def test_unknown_dataset_lists_datasets() -> None:
    with pytest.raises(KeyError) as info:
        builtin_network("vgg16", "mnist")
    assert "mnist" in str(info.value)
    assert all(d in str(info.value) for d in DATASETS)


def test_macs_match_layer_formula() -> None:
    """Guards the totals above against a change in what ``Layer.macs`` means."""
    for l in builtin_network("mobilenetv2"):
        if l.kind == "conv":
            assert l.macs == l.K * (l.C // l.groups) * l.R * l.S * l.E * l.F
    assert math.prod((3, 64, 7, 7, 112, 112)) == by_name(builtin_network("resnet18"))["conv1"].macs


# ----- transformers ------------------------------------------------------------------------------

D, FFN, HEADS, HEAD_DIM, BLOCKS = 768, 3072, 12, 64, 12
BLOCK_WEIGHTS = 4 * 768 * 768 + 2 * 768 * 3072  # Q, K, V, output projection; two FFN layers
BERT_WEIGHTS = 12 * BLOCK_WEIGHTS + 768 * 768  # + pooler; embeddings are look-ups, not listed
VIT_WEIGHTS = 768 * 3 * 16 * 16 + 12 * BLOCK_WEIGHTS + 768 * 1000  # conv_proj + blocks + head


def bert_macs(L: int) -> int:
    """Per sample: every projection once per token, Q K^T and softmax(.) V at 64 x L x L per head."""
    return 12 * (BLOCK_WEIGHTS * L + 2 * 12 * 64 * L * L) + 768 * 768


def bert_names() -> list[str]:
    names = []
    for i in range(12):
        p = f"encoder.layer.{i}"
        names += [f"{p}.attention.self.query", f"{p}.attention.self.key", f"{p}.attention.self.value",
                  f"{p}.attention.scores", f"{p}.attention.context", f"{p}.attention.output.dense",
                  f"{p}.intermediate.dense", f"{p}.output.dense"]
    return names + ["pooler.dense"]


def vit_names() -> list[str]:
    names = ["conv_proj"]
    for i in range(12):
        p = f"encoder.layers.encoder_layer_{i}"
        names += [f"{p}.self_attention.in_proj_q", f"{p}.self_attention.in_proj_k",
                  f"{p}.self_attention.in_proj_v", f"{p}.self_attention.scores",
                  f"{p}.self_attention.context", f"{p}.self_attention.out_proj", f"{p}.mlp.0", f"{p}.mlp.3"]
    return names + ["heads.head"]


def test_transformer_hand_totals() -> None:
    """The integers used below, spelled out once so a slip in the closed forms shows up here."""
    assert BLOCK_WEIGHTS == 7_077_888
    assert BERT_WEIGHTS == 85_524_480
    assert VIT_WEIGHTS == 86_292_480
    assert bert_macs(128) == 11_174_215_680
    vit_block = 7_077_888 * 197 + 2 * 12 * 64 * 197 * 197  # 1_394_343_936 + 59_610_624
    assert 12 * vit_block + 589_824 * 196 + 768_000 == 17_563_828_224


@pytest.mark.parametrize("name, n_conv, n_linear, n_matmul", [
    ("bert-base", 0, 12 * 6 + 1, 12 * 2),
    ("vit-b16", 1, 12 * 6 + 1, 12 * 2),
])
def test_transformer_layer_counts(name: str, n_conv: int, n_linear: int, n_matmul: int) -> None:
    layers = builtin_network(name)
    kinds = [l.kind for l in layers]
    assert (kinds.count("conv"), kinds.count("linear"), kinds.count("matmul")) == (n_conv, n_linear, n_matmul)
    assert len(layers) == n_conv + n_linear + n_matmul
    assert len(layers) == (97 if name == "bert-base" else 98)


@pytest.mark.parametrize("name, weights, macs, quoted", [
    # Commonly quoted: BERT-base at sequence 128 ~ 11.2 GMACs; ViT-B/16 ~ 17.6 GMACs
    # (torchvision: 17.56 GFLOPS, which it counts as multiply-accumulates).
    ("bert-base", 85_524_480, 11_174_215_680, 11.2e9),
    ("vit-b16", 86_292_480, 17_563_828_224, 17.6e9),
])
def test_transformer_exact_totals(name: str, weights: int, macs: int, quoted: float) -> None:
    layers = builtin_network(name)
    assert total_weights(layers) == weights
    assert total_macs(layers) == macs
    assert macs == pytest.approx(quoted, rel=0.03)
    # Without the attention products the totals would be ~2 % (BERT) / ~4 % (ViT) lower.
    attention = sum(l.macs * l.count for l in layers if l.kind == "matmul")
    assert attention == 12 * 2 * 12 * 64 * layers[1].tokens ** 2


def test_transformer_totals_match_closed_forms() -> None:
    assert total_weights(builtin_network("bert-base")) == BERT_WEIGHTS
    assert total_weights(builtin_network("vit-b16")) == VIT_WEIGHTS
    assert total_macs(builtin_network("bert-base")) == bert_macs(128)


def test_transformers_against_published_parameter_counts() -> None:
    """Adding biases, layer norms and embeddings back gives the published counts exactly."""
    per_block_extra = (3 * 768 + 768 + 3072 + 768) + 2 * (2 * 768)  # biases; two layer norms
    # HuggingFace bert-base-uncased: 109,482,240 parameters (vocabulary 30522, 512 positions, 2 segments).
    embeddings = 30522 * 768 + 512 * 768 + 2 * 768 + 2 * 768  # + embedding layer norm
    assert BERT_WEIGHTS + 12 * per_block_extra + 768 + embeddings == 109_482_240
    # torchvision vit_b_16: 86,567,656 parameters.
    extra = 768 + 768 + 197 * 768 + 12 * per_block_extra + 2 * 768 + 1000  # conv bias, class token,
    assert VIT_WEIGHTS + extra == 86_567_656                                # positions, final LN, head bias


@pytest.mark.parametrize("L", [1, 64, 128, 384, 512])
def test_bert_tokens_sets_sequence_length(L: int) -> None:
    layers = builtin_network("bert-base", tokens=L)
    assert total_macs(layers) == bert_macs(L)
    assert total_weights(layers) == BERT_WEIGHTS  # static weights do not depend on the length
    for l in layers:
        assert l.tokens == (1 if l.name == "pooler.dense" else L), l.name
    d = by_name(layers)
    assert (d["encoder.layer.5.attention.scores"].C, d["encoder.layer.5.attention.scores"].K) == (64, L)
    assert (d["encoder.layer.5.attention.context"].C, d["encoder.layer.5.attention.context"].K) == (L, 64)


def test_bert_tokens_changes_layers() -> None:
    default, short, long = (builtin_network("bert-base", tokens=t) for t in (None, 64, 256))
    assert default == builtin_network("bert-base", tokens=128)
    assert short != default != long
    assert [l.name for l in short] == [l.name for l in long] == bert_names()
    assert total_macs(long) > total_macs(default) > total_macs(short)


def test_transformer_names() -> None:
    assert [l.name for l in builtin_network("bert-base")] == bert_names()
    assert [l.name for l in builtin_network("vit-b16")] == vit_names()


@pytest.mark.parametrize("name, tokens", [("bert-base", 128), ("vit-b16", 197)])
def test_transformer_blocks(name: str, tokens: int) -> None:
    layers = builtin_network(name)
    blocks: dict[str, list[Layer]] = {}
    for l in layers:
        if l.name.startswith("encoder."):
            blocks.setdefault(".".join(l.name.split(".")[:3]), []).append(l)
    assert len(blocks) == 12
    for prefix, block in blocks.items():
        q, k, v, scores, context, out, up, down = block
        for proj in (q, k, v, out):
            assert (proj.kind, proj.C, proj.K) == ("linear", 768, 768)
        assert (up.kind, up.C, up.K) == ("linear", 768, 3072)
        assert (down.kind, down.C, down.K) == ("linear", 3072, 768)
        for l in (q, k, v, out, up, down):
            assert (l.tokens, l.count, l.dynamic) == (tokens, 1, False), l.name
        for l in (scores, context):
            assert (l.kind, l.dynamic, l.count, l.tokens) == ("matmul", True, 12, tokens), l.name
        assert (scores.C, scores.K) == (64, tokens)  # 64-wide query against every key
        assert (context.C, context.K) == (tokens, 64)  # a row of scores against V
        assert scores.count * context.K == out.C == q.K  # the heads concatenate back to the width
        assert scores.macs == context.macs == 64 * tokens * tokens
        assert all((l.R, l.S, l.H, l.W, l.stride, l.pad, l.groups) == (1, 1, 1, 1, 1, 0, 1) for l in block)
    dynamic = [l for l in layers if l.dynamic]
    assert len(dynamic) == 24 and all(l.kind == "matmul" for l in dynamic)
    assert all(l.kind != "matmul" for l in layers if not l.dynamic)
    head = layers[-1]
    assert (head.kind, head.tokens, head.count, head.dynamic, head.C) == ("linear", 1, 1, False, 768)
    assert head.K == (768 if name == "bert-base" else 1000)


def test_vit_patch_embedding() -> None:
    layers = builtin_network("vit-b16")
    patch = layers[0]
    assert patch.name == "conv_proj" and patch.kind == "conv"
    assert shape(patch) == (3, 768, 16, 16, 224, 224, 16, 0, 1, 14, 14)
    assert patch.weights == 768 * 3 * 16 * 16 and patch.macs == 768 * 3 * 16 * 16 * 196
    assert layers[1].tokens == patch.E * patch.F + 1 == 197  # patches + class token
    assert by_name(layers)["heads.head"].K == NUM_CLASSES["imagenet"]


def test_transformer_cache() -> None:
    a = builtin_network("bert-base")
    assert a is builtin_network("bert-base", "imagenet", 128)
    assert a is builtin_network("bert-base", "cifar10", tokens=128)  # the dataset is ignored
    assert builtin_network("bert-base", tokens=256) is builtin_network("bert-base", "cifar100", 256)
    assert builtin_network("vit-b16") is builtin_network("vit-b16", "imagenet")
    assert builtin_network("resnet18") is builtin_network("resnet18", "imagenet", None)


@pytest.mark.parametrize("dataset", DATASETS)
def test_bert_ignores_dataset(dataset: str) -> None:
    assert builtin_network("bert-base", dataset) == builtin_network("bert-base")


@pytest.mark.parametrize("dataset", ["cifar10", "cifar100"])
def test_vit_rejects_cifar(dataset: str) -> None:
    with pytest.raises(KeyError) as info:
        builtin_network("vit-b16", dataset)
    assert "vit-b16" in str(info.value) and dataset in str(info.value) and "imagenet" in str(info.value)


@pytest.mark.parametrize("name", list(CNN_NAMES) + ["vit-b16"])
def test_tokens_rejected_outside_bert(name: str) -> None:
    with pytest.raises(KeyError) as info:
        builtin_network(name, tokens=197)
    assert name in str(info.value) and "tokens" in str(info.value)


@pytest.mark.parametrize("tokens", [0, -1, 513, 12.0, True, "128"])
def test_bert_bad_tokens(tokens: object) -> None:
    with pytest.raises(ValueError, match="tokens"):
        builtin_network("bert-base", tokens=tokens)  # type: ignore[arg-type]


def test_bert_still_rejects_unknown_dataset() -> None:
    with pytest.raises(KeyError, match="mnist"):
        builtin_network("bert-base", "mnist")


def test_unknown_network_lists_transformers() -> None:
    with pytest.raises(KeyError) as info:
        builtin_network("bert-large")
    assert "bert-base" in str(info.value) and "vit-b16" in str(info.value)


@pytest.mark.parametrize("name", TRANSFORMER_NAMES)
def test_transformer_records(name: str) -> None:
    layers = builtin_network(name)
    assert len({l.name for l in layers}) == len(layers)
    for l in layers:
        assert l.kind in ("conv", "linear", "matmul")
        assert l.dilation == 1 and l.input_density is None and l.groups == 1
        assert l.count == (12 if l.kind == "matmul" else 1)
