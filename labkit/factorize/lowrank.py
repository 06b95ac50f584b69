"""Low-rank factorization: one large matrix or kernel replaced by a product of smaller ones.

A weight matrix W (m x n) of rank r is the product of an m x r and an r x n matrix, which hold
r (m + n) numbers instead of m n. Truncated SVD gives the best such product for any rank
(Eckart-Young). For a convolution there are several ways to read its 4-D kernel as a product:

- ``"svd"``: the kernel as an (out) x (in k k) matrix: a k x k conv to ``rank`` channels, then
  a 1 x 1 conv to the outputs;
- ``"spatial"``: the kernel as an (in kh) x (out kw) matrix: a kh x 1 conv to ``rank``
  channels, then a 1 x kw conv (Jaderberg et al. 2014, scheme 2);
- ``"tucker"``: Tucker-2 on the two channel modes: a 1 x 1 conv to ``rank_in`` channels, a
  k x k conv to ``rank_out``, a 1 x 1 conv to the outputs (Kim et al. 2016). Its factors come
  from the higher-order SVD, from scratch here; tensorly's ``partial_tucker`` is the reference.

Every function checks its arguments first (a rank of 0 or above what the matrix has, a layer
kind that cannot be factorized, a weight that is neither 2-D nor 4-D) and names the argument.

Lesson: notebooks/06_matrix_factorization.ipynb.

Used by: labkit.factorize.ranks, labkit.factorize.widget and labkit.compress.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from labkit._validate import check_choice, check_float, check_int, check_module, check_tensor

METHODS = ("svd", "spatial", "tucker")
Rank = int | tuple[int, int]


# --------------------------------------------------------------------------- matrices


def _check_matrix(name: str, matrix: torch.Tensor) -> torch.Tensor:
    check_tensor(name, matrix, finite=True)
    if matrix.ndim != 2:
        raise ValueError(f"argument '{name}' must be a 2-D matrix, got shape {tuple(matrix.shape)}")
    return matrix.detach().float()


def _check_rank(rank: int, largest: int, name: str = "rank") -> int:
    return check_int(name, rank, min_value=1, max_value=largest)


def _leading_left(m: torch.Tensor, r: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The r leading left singular vectors of ``m`` and all its singular values, descending.
    For a wide matrix they are the eigenvectors of the small Gram matrix m m^T (in float64),
    about 15x faster than a full SVD of a 512 x 4608 kernel; a tall one takes the SVD."""
    if m.shape[0] > m.shape[1]:
        u, s, _ = torch.linalg.svd(m, full_matrices=False)
        return u[:, :r], s
    values, vectors = torch.linalg.eigh(m.double() @ m.double().T)
    order = torch.argsort(values, descending=True)
    s = values[order].clamp(min=0).sqrt().float()
    return vectors[:, order[:r]].float(), s


def singular_values(matrix: torch.Tensor) -> torch.Tensor:
    """The singular values of ``matrix``, largest first: the square roots of the eigenvalues
    of its Gram matrix W W^T (the smaller of W W^T and W^T W).

    Lesson: notebooks/06_matrix_factorization.ipynb, "The singular value decomposition".
    """
    w = _check_matrix("matrix", matrix)
    w = w if w.shape[0] <= w.shape[1] else w.T
    return _leading_left(w, 1)[1]


def low_rank(matrix: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The best rank-``rank`` product ``A @ B`` for ``matrix`` (m x n), the truncated SVD:
    ``A`` (m x r) holds the r leading left singular vectors U_r, and ``B = U_r^T W`` (r x n),
    which is S_r V_r^T (a wide matrix; a tall one is handled through its transpose).

    Lesson: notebooks/06_matrix_factorization.ipynb, "The singular value decomposition".
    """
    w = _check_matrix("matrix", matrix)
    rank = _check_rank(rank, min(w.shape))
    if w.shape[0] > w.shape[1]:  # tall: factor the wide transpose, W^T ~ A' B'
        a, b = low_rank(w.T, rank)
        return b.T, a.T
    u, _ = _leading_left(w, rank)
    return u, u.T @ w


def approximation_error(matrix: torch.Tensor, rank: int) -> float:
    """Relative error ``||W - A B|| / ||W||`` (Frobenius norm) of the best rank-``rank``
    product: by Eckart-Young, the root of the share of squared singular values left out.

    Lesson: notebooks/06_matrix_factorization.ipynb, "The singular value decomposition".
    """
    a, b = low_rank(matrix, rank)
    w = matrix.detach().float()
    norm = float(w.norm())
    return float((w - a @ b).norm()) / norm if norm > 0 else 0.0


def energy_rank(matrix: torch.Tensor, energy: float) -> int:
    """The smallest rank whose singular values keep at least ``energy`` (a fraction in (0, 1])
    of the sum of squared singular values.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    w = _check_matrix("matrix", matrix)
    energy = check_float("energy", energy, low=0, high=1, low_inclusive=False)
    s2 = singular_values(w).double() ** 2
    kept = torch.cumsum(s2, 0) / s2.sum()
    return min(int((kept < energy - 1e-12).sum()) + 1, len(s2))


# --------------------------------------------------------------------------- layers


def _check_layer(layer: nn.Module) -> nn.Module:
    check_module("layer", layer)
    if isinstance(layer, nn.Linear):
        return layer
    if type(layer) is nn.Conv2d:
        if layer.groups != 1:
            raise ValueError(
                f"argument 'layer' is a grouped convolution (groups={layer.groups}): its "
                "channels are already split, so it cannot be factorized this way"
            )
        if layer.padding_mode != "zeros" or isinstance(layer.padding, str):
            raise ValueError(
                "argument 'layer' must use numeric zero padding (padding=1, not 'same' or "
                f"{layer.padding_mode!r})"
            )
        return layer
    raise TypeError(
        f"argument 'layer' must be an nn.Linear or an nn.Conv2d, got {type(layer).__name__}: "
        "only weight matrices and 2-D convolution kernels can be factorized"
    )


def _check_weight(weight: torch.Tensor) -> torch.Tensor:
    check_tensor("weight", weight, finite=True)
    if weight.ndim not in (2, 4):
        raise ValueError(
            "argument 'weight' must be 2-D (a Linear layer's out x in) or 4-D (a convolution's "
            f"out x in x kh x kw), got shape {tuple(weight.shape)}"
        )
    return weight.detach().float()


def method_matrix(weight: torch.Tensor, method: str) -> torch.Tensor:
    """The matrix whose rank ``method`` cuts: the weight itself (2-D), out x (in kh kw) for
    ``"svd"``, (in kh) x (out kw) for ``"spatial"``, the out-channel unfolding for ``"tucker"``.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Convolutions: the spatial split".
    """
    w = _check_weight(weight)
    check_choice("method", method, METHODS)
    if w.ndim == 2:
        return w
    o, i, kh, kw = w.shape
    if method == "spatial":
        return w.permute(1, 2, 0, 3).reshape(i * kh, o * kw)
    return w.reshape(o, -1)


def max_rank(weight: torch.Tensor, method: str = "svd") -> Rank:
    """The largest rank ``method`` accepts for this weight: min(m, n) of its matrix, or
    (out, in) channels for Tucker-2.
    """
    w = _check_weight(weight)
    check_choice("method", method, METHODS)
    if method == "tucker" and w.ndim == 4:
        return (w.shape[0], w.shape[1])
    return min(method_matrix(w, method).shape)


def _ranks(weight: torch.Tensor, rank: Rank, method: str) -> Rank:
    largest = max_rank(weight, method)
    if isinstance(largest, tuple):
        if isinstance(rank, tuple | list):
            if len(rank) != 2:
                raise ValueError(f"argument 'rank' must be (rank_out, rank_in), got {rank!r}")
            return (_check_rank(rank[0], largest[0]), _check_rank(rank[1], largest[1]))
        r = _check_rank(rank, min(largest))
        return (r, r)
    return _check_rank(rank, largest)


def tucker2(
    weight: torch.Tensor, rank: Rank, n_iter: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Tucker-2 of a conv kernel (out x in x kh x kw) on its two channel modes, from scratch:
    ``core`` (rank_out x rank_in x kh x kw), ``u_out`` (out x rank_out), ``u_in``
    (in x rank_in), with ``weight ~ core x_0 u_out x_1 u_in``. The factors are the leading
    left singular vectors of each unfolding (HOSVD); ``n_iter`` rounds of HOOI refine them.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Convolutions: Tucker-2 on the channels".
    """
    w = _check_weight(weight)
    if w.ndim != 4:
        raise ValueError(f"argument 'weight' must be 4-D for Tucker-2, got {tuple(w.shape)}")
    r_out, r_in = _ranks(w, rank, "tucker")
    n_iter = check_int("n_iter", n_iter, min_value=0, max_value=1000)

    def leading(unfolded: torch.Tensor, r: int) -> torch.Tensor:
        return _leading_left(unfolded, r)[0]

    u_out = leading(w.reshape(w.shape[0], -1), r_out)
    u_in = leading(w.transpose(0, 1).reshape(w.shape[1], -1), r_in)
    for _ in range(n_iter):  # HOOI: each factor refitted with the other one fixed
        u_out = leading(torch.einsum("oihw,ir->orhw", w, u_in).reshape(w.shape[0], -1), r_out)
        y = torch.einsum("oihw,os->sihw", w, u_out)
        u_in = leading(y.transpose(0, 1).reshape(w.shape[1], -1), r_in)
    core = torch.einsum("oihw,os,ir->srhw", w, u_out, u_in)
    return core, u_out, u_in


def tucker2_reconstruct(
    core: torch.Tensor, u_out: torch.Tensor, u_in: torch.Tensor
) -> torch.Tensor:
    """The kernel a Tucker-2 decomposition stands for: ``core x_0 u_out x_1 u_in``.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Convolutions: Tucker-2 on the channels".
    """
    return torch.einsum("srhw,os,ir->oihw", core, u_out, u_in)


def _conv(c_in, c_out, kernel, stride=1, padding=0, dilation=1, bias=False) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, kernel, stride, padding, dilation, bias=bias)


def factorize_layer(layer: nn.Module, rank: Rank, method: str = "svd") -> nn.Sequential:
    """``layer`` (nn.Linear or nn.Conv2d) as a sequence of smaller layers of the given
    ``rank``, initialized from its weights (see the module docstring for the methods; a Linear
    layer is always split by SVD). The bias goes to the last layer. At full rank the result
    computes what ``layer`` did, up to float rounding.

    Lesson: notebooks/06_matrix_factorization.ipynb, "The singular value decomposition".
    """
    _check_layer(layer)
    check_choice("method", method, METHODS)
    w = layer.weight.detach().float()
    bias = layer.bias is not None
    if isinstance(layer, nn.Linear):
        a, b = low_rank(w, _ranks(w, rank, "svd"))
        first = nn.Linear(layer.in_features, b.shape[0], bias=False)
        last = nn.Linear(b.shape[0], layer.out_features, bias=bias)
        parts = [(first, b), (last, a)]
    else:
        o, i, kh, kw = w.shape
        sh, sw = layer.stride
        ph, pw = layer.padding
        dh, dw = layer.dilation
        r = _ranks(w, rank, method)
        if method == "svd":
            a, b = low_rank(method_matrix(w, "svd"), r)
            first = _conv(i, r, (kh, kw), layer.stride, layer.padding, layer.dilation)
            last = _conv(r, o, 1, bias=bias)
            parts = [(first, b.reshape(r, i, kh, kw)), (last, a.reshape(o, r, 1, 1))]
        elif method == "spatial":
            a, b = low_rank(method_matrix(w, "spatial"), r)
            first = _conv(i, r, (kh, 1), (sh, 1), (ph, 0), (dh, 1))
            last = _conv(r, o, (1, kw), (1, sw), (0, pw), (1, dw), bias=bias)
            vertical = a.T.reshape(r, i, kh, 1)
            horizontal = b.reshape(r, o, kw).permute(1, 0, 2).reshape(o, r, 1, kw)
            parts = [(first, vertical), (last, horizontal)]
        else:
            core, u_out, u_in = tucker2(w, r)
            r_out, r_in = r
            first = _conv(i, r_in, 1)
            middle = _conv(r_in, r_out, (kh, kw), layer.stride, layer.padding, layer.dilation)
            last = _conv(r_out, o, 1, bias=bias)
            parts = [
                (first, u_in.T.reshape(r_in, i, 1, 1)),
                (middle, core),
                (last, u_out.reshape(o, r_out, 1, 1)),
            ]
    with torch.no_grad():
        for module, weight in parts:
            module.weight.copy_(weight)
        if bias:
            parts[-1][0].bias.copy_(layer.bias.detach())
    seq = nn.Sequential(*(m for m, _ in parts))
    return seq.to(layer.weight.device).train(layer.training)


# --------------------------------------------------------------------------- formulas


def _out_size(size: int, k: int, stride: int, pad: int, dil: int) -> int:
    return (size + 2 * pad - dil * (k - 1) - 1) // stride + 1


def factorized_cost(
    layer: nn.Module, rank: Rank | None, method: str = "svd", in_hw: tuple[int, int] = (1, 1)
) -> dict[str, int]:
    """Parameters and multiply-accumulates (one example, input ``in_hw`` pixels for a conv)
    of ``factorize_layer(layer, rank, method)``, from the formulas, without building it;
    ``rank=None`` gives the original layer's.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Convolutions: the spatial split".
    """
    _check_layer(layer)
    check_choice("method", method, METHODS)
    w = layer.weight
    bias = 0 if layer.bias is None else w.shape[0]
    if isinstance(layer, nn.Linear):
        o, i = w.shape
        if rank is None:
            return {"params": o * i + bias, "macs": o * i}
        r = _ranks(w, rank, "svd")
        return {"params": r * (i + o) + bias, "macs": r * (i + o)}
    if not isinstance(in_hw, tuple | list) or len(in_hw) != 2:
        raise ValueError(f"argument 'in_hw' must be (height, width), got {in_hw!r}")
    h, wd = (check_int("in_hw", v, min_value=1) for v in in_hw)
    o, i, kh, kw = w.shape
    (sh, sw), (ph, pw), (dh, dw) = layer.stride, layer.padding, layer.dilation
    ho, wo = _out_size(h, kh, sh, ph, dh), _out_size(wd, kw, sw, pw, dw)
    if rank is None:
        return {"params": o * i * kh * kw + bias, "macs": ho * wo * o * i * kh * kw}
    r = _ranks(w, rank, method)
    if method == "svd":
        params = r * i * kh * kw + o * r
        macs = ho * wo * params
    elif method == "spatial":
        params = i * r * kh + r * o * kw
        macs = ho * wd * i * r * kh + ho * wo * r * o * kw  # the kh x 1 conv keeps the width
    else:
        r_out, r_in = r
        params = i * r_in + r_in * r_out * kh * kw + r_out * o
        macs = h * wd * i * r_in + ho * wo * (r_in * r_out * kh * kw + r_out * o)
    return {"params": params + bias, "macs": macs}


# --------------------------------------------------------------------------- models


def factorizable_layers(net: nn.Module) -> dict[str, nn.Module]:
    """The layers of ``net`` that ``factorize_model`` can split: Linear layers and ungrouped
    2-D convolutions with numeric zero padding.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Fine-tuning wins back most of the accuracy".
    """
    check_module("net", net)
    found = {}
    for name, module in net.named_modules():
        try:
            found[name] = _check_layer(module)
        except (TypeError, ValueError):
            continue
    return found


def factorize_model(net: nn.Module, ranks: dict[str, Rank], method: str = "svd") -> nn.Module:
    """A copy of ``net`` with each layer named in ``ranks`` replaced by
    ``factorize_layer(layer, rank, method)``; ``net`` is left as it was. Every name and rank
    is checked before anything is replaced.

    Lesson: notebooks/06_matrix_factorization.ipynb, "Fine-tuning wins back most of the accuracy".
    """
    check_module("net", net)
    check_choice("method", method, METHODS)
    if not isinstance(ranks, dict) or not ranks:
        raise TypeError(
            f"argument 'ranks' must be a non-empty {{layer name: rank}} dict, got {ranks!r}"
        )
    modules = dict(net.named_modules())
    for name, rank in ranks.items():
        if name not in modules:
            raise ValueError(f"argument 'ranks' names {name!r}, which is not a layer of 'net'")
        layer = _check_layer(modules[name])
        kind = method if isinstance(layer, nn.Conv2d) else "svd"
        _ranks(layer.weight, rank, kind)
    out = copy.deepcopy(net)
    for name, rank in ranks.items():
        parent_name, _, child = name.rpartition(".")
        parent = out.get_submodule(parent_name) if parent_name else out
        setattr(parent, child, factorize_layer(getattr(parent, child), rank, method))
    return out


def energy_ranks(net: nn.Module, energy: float, method: str = "svd") -> dict[str, Rank]:
    """Per layer, the smallest rank keeping ``energy`` of the squared singular values of the
    matrix ``method`` cuts (for Tucker-2, one rank per channel mode).
    """
    check_float("energy", energy, low=0, high=1, low_inclusive=False)
    check_choice("method", method, METHODS)
    ranks: dict[str, Rank] = {}
    for name, layer in factorizable_layers(net).items():
        w = layer.weight.detach().float()
        if method == "tucker" and w.ndim == 4:
            ranks[name] = (
                energy_rank(w.reshape(w.shape[0], -1), energy),
                energy_rank(w.transpose(0, 1).reshape(w.shape[1], -1), energy),
            )
        else:
            ranks[name] = energy_rank(method_matrix(w, method if w.ndim == 4 else "svd"), energy)
    return ranks


def uniform_ranks(
    net: nn.Module, fraction: float, method: str = "svd", layers: list[str] | None = None
) -> dict[str, Rank]:
    """The same share of every layer's largest rank (at least 1), for ``layers`` (default:
    every factorizable layer).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Choosing ranks from measured times".
    """
    fraction = check_float("fraction", fraction, low=0, high=1, low_inclusive=False)
    check_choice("method", method, METHODS)
    found = factorizable_layers(net)
    names = list(found) if layers is None else layers
    ranks: dict[str, Rank] = {}
    for name in names:
        if name not in found:
            raise ValueError(f"argument 'layers' names {name!r}, not a factorizable layer of 'net'")
        w = found[name].weight
        largest = max_rank(w, method if w.ndim == 4 else "svd")
        if isinstance(largest, tuple):
            ranks[name] = tuple(max(1, round(fraction * m)) for m in largest)
        else:
            ranks[name] = max(1, round(fraction * largest))
    return ranks


def kernel_error(weight: torch.Tensor, rank: Rank, method: str = "svd") -> float:
    """Relative error ``||W - W_r|| / ||W||`` of the kernel that ``method`` at ``rank`` builds
    (Tucker-2: the HOSVD factors that ``factorize_layer`` uses).

    Lesson: notebooks/06_matrix_factorization.ipynb, "Explore: a layer's shape and rank".
    """
    w = _check_weight(weight)
    check_choice("method", method, METHODS)
    if method == "tucker" and w.ndim == 4:
        approx = tucker2_reconstruct(*tucker2(w, rank))
        return float((w - approx).norm() / w.norm()) if float(w.norm()) > 0 else 0.0
    return approximation_error(method_matrix(w, method), _ranks(w, rank, method))
