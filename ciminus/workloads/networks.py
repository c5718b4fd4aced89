"""Built-in networks, as ordered tuples of :class:`~ciminus.workloads.layers.Layer`.

Only the weight-bearing layers (convolutions, fully-connected layers and, in the transformers, the
attention matrix products) are listed, because those are the ones mapped onto compute-in-memory macros;
pooling, batch norm, layer norm, softmax, activations, embedding look-ups and residual additions are
post-processing. Each network is listed in execution order with one ``Layer`` per module, and layer
names follow torchvision's module paths (``layer1.0.conv1``, ``features.1.conv.0.0``, ...) so that they
line up with an ONNX export of the corresponding PyTorch model.

ImageNet variants (224 x 224 input, 1000 classes) are the torchvision definitions:

* ``vgg16`` -- configuration D of Simonyan & Zisserman, "Very Deep Convolutional Networks for Large-Scale
  Image Recognition", ICLR 2015, without batch norm: 13 convolutions 3 x 3 / pad 1 in five stages
  separated by 2 x 2 max-pools, then fully-connected 25088 -> 4096 -> 4096 -> 1000.
* ``resnet18`` / ``resnet50`` -- He et al., "Deep Residual Learning for Image Recognition", CVPR 2016:
  7 x 7 / stride 2 stem, 3 x 3 / stride 2 max-pool, four stages of basic (ResNet18, [2, 2, 2, 2]) or
  bottleneck (ResNet50, [3, 4, 6, 3]) blocks, 1 x 1 projection shortcuts (``downsample.0``) wherever the
  shape changes, global average pool and ``fc``. ResNet50 is "v1.5": the stride of a down-sampling
  bottleneck sits on its 3 x 3 convolution, not on the first 1 x 1.
* ``mobilenetv2`` -- Sandler et al., "MobileNetV2: Inverted Residuals and Linear Bottlenecks", CVPR 2018,
  width multiplier 1.0: 3 x 3 / stride 2 stem with 32 channels, 17 inverted-residual blocks (expansion
  1 x 1, depthwise 3 x 3, linear 1 x 1 projection; the first block has no expansion), a 1 x 1 conv to
  1280 channels, global pool and ``classifier.1``.

CIFAR-10 / CIFAR-100 variants (32 x 32 input, 10 / 100 classes) follow the common CIFAR adaptations of
the same architectures (as popularised by the "pytorch-cifar" training recipes), named with the same
scheme for the layers that exist:

* ``vgg16`` -- the same 13 convolutions; after the fifth pool the map is 1 x 1, and the classifier is a
  single ``Linear(512, classes)`` (named ``classifier``, a bare module rather than a sequence).
* ``resnet18`` / ``resnet50`` -- a 3 x 3 / stride 1 / pad 1 stem with 64 channels and no max-pool, the
  ImageNet stages with strides 1, 2, 2, 2, global pool and ``Linear(512 * expansion, classes)``.
* ``mobilenetv2`` -- the ImageNet network with the stem at stride 1 and the first down-sampling stage
  (24 channels) at stride 1, so the final map is 4 x 4; ``Linear(1280, classes)``.

Transformers. Both are the "base" encoder size: 12 blocks, model width 768, 12 attention heads of 64
channels and a feed-forward hidden width of 3072. One block contributes, in execution order, the query,
key and value projections (768 -> 768 each, one vector per token), two products per head whose second
operand is computed from the current input rather than trained -- the scores ``Q K^T`` (reduction 64,
one output per token, ``kind="matmul"``, ``dynamic=True``, ``count=12`` heads) and the context
``softmax(scores) V`` (reduction = sequence length, 64 outputs, likewise dynamic, 12 heads) -- then the
768 -> 768 output projection and the two feed-forward layers 768 -> 3072 -> 768. The twelve blocks are
listed one by one (``count=1``; only the per-head products repeat) so that every layer keeps the module
name it has in the reference PyTorch implementation.

* ``bert-base`` -- the smaller of the two encoders of Devlin et al., "BERT: Pre-training of Deep
  Bidirectional Transformers for Language Understanding", NAACL 2019, named as in the HuggingFace
  ``BertModel``: ``encoder.layer.{i}.attention.self.query`` / ``.key`` / ``.value``, the two dynamic
  products ``encoder.layer.{i}.attention.scores`` / ``.context`` (names of our own; they are not modules
  there), ``encoder.layer.{i}.attention.output.dense``, ``encoder.layer.{i}.intermediate.dense``,
  ``encoder.layer.{i}.output.dense``, and the ``pooler.dense`` 768 -> 768 layer applied to the first
  token only. Text has no image size, so the sequence length is the ``tokens`` argument of
  :func:`builtin_network` (128 by default, at most the 512 positions BERT has embeddings for) and the
  ``dataset`` argument is accepted but ignored. No task head is included.
* ``vit-b16`` -- ViT-Base with 16 x 16 patches from Dosovitskiy et al., "An Image is Worth 16x16 Words:
  Transformers for Image Recognition at Scale", ICLR 2021, named as in torchvision's ``vit_b_16``. The
  patch embedding is a convolution (``conv_proj``, 3 -> 768, 16 x 16 kernel, stride 16) that cuts the
  224 x 224 image into 14 x 14 = 196 patches; a learned class token is prepended, so the encoder sees 197
  tokens. torchvision keeps the query, key and value weights in one packed ``in_proj`` matrix; here it is
  split into ``encoder.layers.encoder_layer_{i}.self_attention.in_proj_q`` / ``_k`` / ``_v``, followed
  by ``...self_attention.scores`` / ``.context`` (dynamic), ``...self_attention.out_proj``, ``...mlp.0``
  (768 -> 3072) and ``...mlp.3`` (3072 -> 768); the classifier ``heads.head`` (768 -> 1000) reads the
  class token only. ViT-B/16 is defined for ImageNet input only.
"""

from __future__ import annotations

from functools import cache

from ciminus.workloads.layers import Layer

DATASETS: tuple[str, ...] = ("imagenet", "cifar10", "cifar100")
"""Datasets a built-in network can be instantiated for."""

INPUT_SIZES: dict[str, int] = {"imagenet": 224, "cifar10": 32, "cifar100": 32}
"""Square input resolution (pixels per side) of each dataset."""

NUM_CLASSES: dict[str, int] = {"imagenet": 1000, "cifar10": 10, "cifar100": 100}
"""Number of output classes (the width of the last fully-connected layer) of each dataset."""

CNN_NAMES: tuple[str, ...] = ("vgg16", "resnet18", "resnet50", "mobilenetv2")
"""The convolutional networks, each defined for every dataset in :data:`DATASETS`."""

TRANSFORMER_NAMES: tuple[str, ...] = ("bert-base", "vit-b16")
"""The transformer encoders: ``bert-base`` (sequence length from ``tokens``) and ``vit-b16`` (ImageNet)."""

NETWORK_NAMES: tuple[str, ...] = CNN_NAMES + TRANSFORMER_NAMES

SEQUENCE_NETWORKS: tuple[str, ...] = ("bert-base",)
"""Built-in networks whose sequence length (``tokens``) a user chooses."""
"""Names accepted by :func:`builtin_network`."""

BERT_DEFAULT_TOKENS = 128
"""Sequence length of ``bert-base`` when :func:`builtin_network` is given no ``tokens``."""

BERT_MAX_TOKENS = 512
"""Longest sequence ``bert-base`` has position embeddings for."""

# VGG configuration "D": output channels of each 3x3 conv, "M" for a 2x2/stride-2 max-pool.
_VGG16_CFG: tuple[int | str, ...] = (
    64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M",
)

# ResNet: (bottleneck planes, blocks per stage) for the four stages; strides are 1, 2, 2, 2.
_RESNET_PLANES: tuple[int, ...] = (64, 128, 256, 512)
_RESNET_STRIDES: tuple[int, ...] = (1, 2, 2, 2)
_RESNET_BLOCKS: dict[str, tuple[int, ...]] = {"resnet18": (2, 2, 2, 2), "resnet50": (3, 4, 6, 3)}

# MobileNetV2 inverted-residual stages: (expansion t, output channels c, repeats n, first stride s).
_MBV2_STAGES: tuple[tuple[int, int, int, int], ...] = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
_MBV2_STEM_CHANNELS = 32
_MBV2_LAST_CHANNELS = 1280

# Transformer "base" encoder: blocks, model width, heads, feed-forward width; ViT-B/16 patch side.
_TF_BLOCKS = 12
_TF_HIDDEN = 768
_TF_HEADS = 12
_TF_FFN = 3072
_VIT_PATCH = 16


def _conv(name: str, c: int, k: int, kernel: int, size: int, stride: int = 1,
          pad: int | None = None, groups: int = 1) -> Layer:
    """A square conv on a square ``size x size`` input; ``pad`` defaults to "same" (``kernel // 2``)."""
    return Layer(name=name, kind="conv", C=c, K=k, R=kernel, S=kernel, H=size, W=size,
                 stride=stride, pad=kernel // 2 if pad is None else pad, groups=groups)


def _linear(name: str, c: int, k: int) -> Layer:
    """A fully-connected layer applied once per sample."""
    return Layer(name=name, kind="linear", C=c, K=k, tokens=1)


def _pool_out(size: int, kernel: int, stride: int, pad: int = 0) -> int:
    """Output side of a max-pool, so the next layer's input size is derived, not hand-typed."""
    return (size + 2 * pad - kernel) // stride + 1


def _vgg16(size: int, classes: int, imagenet: bool) -> list[Layer]:
    """VGG16 (config D, no batch norm); module indices count each conv + ReLU pair and each pool."""
    layers: list[Layer] = []
    index, channels = 0, 3
    for item in _VGG16_CFG:
        if item == "M":
            size = _pool_out(size, 2, 2)
            index += 1
            continue
        assert isinstance(item, int)
        layers.append(_conv(f"features.{index}", channels, item, 3, size, stride=1, pad=1))
        channels = item
        index += 2  # Conv2d, ReLU
    if imagenet:
        # AdaptiveAvgPool2d((7, 7)) is the identity on the 7x7 map a 224 input leaves here.
        flat = channels * 7 * 7
        layers += [
            _linear("classifier.0", flat, 4096),
            _linear("classifier.3", 4096, 4096),
            _linear("classifier.6", 4096, classes),
        ]
    else:
        layers.append(_linear("classifier", channels * size * size, classes))
    return layers


def _resnet(blocks: tuple[int, ...], bottleneck: bool, size: int, classes: int,
            imagenet: bool) -> list[Layer]:
    """ResNet with basic or (v1.5) bottleneck blocks; projection shortcuts follow their block's convs."""
    layers: list[Layer] = []
    if imagenet:
        stem = _conv("conv1", 3, 64, 7, size, stride=2, pad=3)
        size = _pool_out(stem.E, 3, 2, 1)
    else:
        stem = _conv("conv1", 3, 64, 3, size, stride=1, pad=1)
        size = stem.E
    layers.append(stem)
    expansion = 4 if bottleneck else 1
    in_ch = 64
    for stage, (planes, repeats, first_stride) in enumerate(
            zip(_RESNET_PLANES, blocks, _RESNET_STRIDES), start=1):
        for block in range(repeats):
            prefix = f"layer{stage}.{block}"
            stride = first_stride if block == 0 else 1
            out_ch = planes * expansion
            if bottleneck:
                c1 = _conv(f"{prefix}.conv1", in_ch, planes, 1, size)
                c2 = _conv(f"{prefix}.conv2", planes, planes, 3, c1.E, stride=stride)
                c3 = _conv(f"{prefix}.conv3", planes, out_ch, 1, c2.E)
                main = [c1, c2, c3]
            else:
                c1 = _conv(f"{prefix}.conv1", in_ch, planes, 3, size, stride=stride)
                c2 = _conv(f"{prefix}.conv2", planes, planes, 3, c1.E)
                main = [c1, c2]
            layers += main
            if stride != 1 or in_ch != out_ch:
                layers.append(_conv(f"{prefix}.downsample.0", in_ch, out_ch, 1, size, stride=stride))
            size, in_ch = main[-1].E, out_ch
    layers.append(_linear("fc", in_ch, classes))  # after global average pooling
    return layers


def _mobilenetv2(size: int, classes: int, imagenet: bool) -> list[Layer]:
    """MobileNetV2 (width 1.0); the CIFAR variant keeps the stem and the 24-channel stage at stride 1."""
    layers: list[Layer] = []
    stem = _conv("features.0.0", 3, _MBV2_STEM_CHANNELS, 3, size, stride=2 if imagenet else 1)
    layers.append(stem)
    size, in_ch = stem.E, _MBV2_STEM_CHANNELS
    index = 1
    for expand, out_ch, repeats, first_stride in _MBV2_STAGES:
        if not imagenet and out_ch == 24:
            first_stride = 1
        for block in range(repeats):
            stride = first_stride if block == 0 else 1
            prefix = f"features.{index}.conv"
            hidden = in_ch * expand
            if expand == 1:
                dw = _conv(f"{prefix}.0.0", hidden, hidden, 3, size, stride=stride, groups=hidden)
                project = _conv(f"{prefix}.1", hidden, out_ch, 1, dw.E)
                layers += [dw, project]
            else:
                pw = _conv(f"{prefix}.0.0", in_ch, hidden, 1, size)
                dw = _conv(f"{prefix}.1.0", hidden, hidden, 3, size, stride=stride, groups=hidden)
                project = _conv(f"{prefix}.2", hidden, out_ch, 1, dw.E)
                layers += [pw, dw, project]
            size, in_ch = dw.E, out_ch
            index += 1
    layers.append(_conv(f"features.{index}.0", in_ch, _MBV2_LAST_CHANNELS, 1, size))
    layers.append(_linear("classifier.1", _MBV2_LAST_CHANNELS, classes))  # classifier.0 is Dropout
    return layers


def _token_linear(name: str, c: int, k: int, tokens: int) -> Layer:
    """A fully-connected layer applied to each of ``tokens`` vectors of a sample."""
    return Layer(name=name, kind="linear", C=c, K=k, tokens=tokens)


def _attention_products(prefix: str, tokens: int) -> list[Layer]:
    """The two per-head products of self-attention, whose second operand is produced at run time.

    ``scores = Q K^T``: each of the ``tokens`` query rows (64 wide) meets the ``tokens`` keys, so the
    "weight" matrix is ``K^T``, 64 x tokens. ``context = softmax(scores) V``: each row of scores (``tokens``
    wide) meets ``V``, a tokens x 64 matrix. Both repeat once per head.
    """
    head_dim = _TF_HIDDEN // _TF_HEADS
    return [
        Layer(name=f"{prefix}.scores", kind="matmul", C=head_dim, K=tokens, tokens=tokens,
              count=_TF_HEADS, dynamic=True),
        Layer(name=f"{prefix}.context", kind="matmul", C=tokens, K=head_dim, tokens=tokens,
              count=_TF_HEADS, dynamic=True),
    ]


def _bert_base(tokens: int) -> list[Layer]:
    """BERT-base encoder and pooler (HuggingFace ``BertModel`` names), without embeddings or task head."""
    layers: list[Layer] = []
    d, ffn = _TF_HIDDEN, _TF_FFN
    for i in range(_TF_BLOCKS):
        p = f"encoder.layer.{i}"
        layers += [_token_linear(f"{p}.attention.self.{qkv}", d, d, tokens)
                   for qkv in ("query", "key", "value")]
        layers += _attention_products(f"{p}.attention", tokens)
        layers += [
            _token_linear(f"{p}.attention.output.dense", d, d, tokens),
            _token_linear(f"{p}.intermediate.dense", d, ffn, tokens),
            _token_linear(f"{p}.output.dense", ffn, d, tokens),
        ]
    layers.append(_linear("pooler.dense", d, d))  # first ([CLS]) token only
    return layers


def _vit_b16(size: int, classes: int) -> list[Layer]:
    """ViT-B/16 (torchvision names; the packed ``in_proj`` split into its query, key and value parts)."""
    d, ffn = _TF_HIDDEN, _TF_FFN
    patchify = _conv("conv_proj", 3, d, _VIT_PATCH, size, stride=_VIT_PATCH, pad=0)
    tokens = patchify.E * patchify.F + 1  # patches plus the class token
    layers: list[Layer] = [patchify]
    for i in range(_TF_BLOCKS):
        p = f"encoder.layers.encoder_layer_{i}"
        layers += [_token_linear(f"{p}.self_attention.in_proj_{qkv}", d, d, tokens)
                   for qkv in ("q", "k", "v")]
        layers += _attention_products(f"{p}.self_attention", tokens)
        layers += [
            _token_linear(f"{p}.self_attention.out_proj", d, d, tokens),
            _token_linear(f"{p}.mlp.0", d, ffn, tokens),
            _token_linear(f"{p}.mlp.3", ffn, d, tokens),
        ]
    layers.append(_linear("heads.head", d, classes))  # class token only
    return layers


@cache
def _build(name: str, dataset: str, tokens: int | None = None) -> tuple[Layer, ...]:
    """Build once per (network, dataset, tokens); layers are frozen, so sharing the tuple is safe."""
    if name == "bert-base":
        assert tokens is not None
        return tuple(_bert_base(tokens))
    size, classes, imagenet = INPUT_SIZES[dataset], NUM_CLASSES[dataset], dataset == "imagenet"
    if name == "vit-b16":
        return tuple(_vit_b16(size, classes))
    if name == "vgg16":
        layers = _vgg16(size, classes, imagenet)
    elif name in _RESNET_BLOCKS:
        layers = _resnet(_RESNET_BLOCKS[name], name == "resnet50", size, classes, imagenet)
    else:
        layers = _mobilenetv2(size, classes, imagenet)
    return tuple(layers)


def builtin_network(name: str, dataset: str = "imagenet", tokens: int | None = None) -> tuple[Layer, ...]:
    """Every weight-bearing layer of a built-in network, in execution order.

    ``tokens`` is the sequence length of ``bert-base`` (``None``: 128; at most 512), whose ``dataset`` must
    still be one of :data:`DATASETS` but is otherwise ignored. ``vit-b16`` takes ``"imagenet"`` only and
    derives its 197 tokens from the image, and no CNN takes ``tokens``.

    Raises ``KeyError`` (listing the valid choices) for an unknown network or dataset, or for a network
    given a dataset or ``tokens`` it does not take, so a typo in a sweep file fails loudly instead of
    silently pricing a different model; ``ValueError`` for a sequence length BERT-base cannot have.
    """
    if name not in NETWORK_NAMES:
        raise KeyError(f"unknown network {name!r}; valid names: {', '.join(NETWORK_NAMES)}")
    if dataset not in DATASETS:
        raise KeyError(f"unknown dataset {dataset!r}; valid datasets: {', '.join(DATASETS)}")
    if name == "bert-base":
        if tokens is None:
            tokens = BERT_DEFAULT_TOKENS
        if isinstance(tokens, bool) or not isinstance(tokens, int) or not 1 <= tokens <= BERT_MAX_TOKENS:
            raise ValueError(f"bert-base: tokens (the sequence length) must be an integer from 1 to "
                             f"{BERT_MAX_TOKENS}, got {tokens!r}")
        return _build(name, "imagenet", tokens)  # the dataset is ignored: one cache entry per length
    if tokens is not None:
        hint = ("its 197 tokens follow from the 224 x 224 image" if name == "vit-b16"
                else "it is a convolutional network")
        raise KeyError(f"{name!r} takes no tokens argument ({hint}); only bert-base has a sequence "
                       f"length, got tokens={tokens!r}")
    if name == "vit-b16" and dataset != "imagenet":
        raise KeyError(f"'vit-b16' is defined for dataset 'imagenet' only (224 x 224 input, 1000 "
                       f"classes), got {dataset!r}")
    return _build(name, dataset)
