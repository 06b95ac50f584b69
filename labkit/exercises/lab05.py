"""Exercises of notebooks/05_mixed_precision.ipynb.

Used by: notebook 05 (``from labkit.exercises import lab05``) and the tests
(``tests/test_exercises.py`` runs every question's declaration, with ``example_context()``
in place of the notebook's variables).
"""

from __future__ import annotations

import math

import torch

from labkit.check import (
    Alternative,
    Planted,
    Question,
    Wrong,
    bind,
    call_learner,
    describe,
    want_callable,
    want_number,
)
from labkit.numeric import Mistake, Numeric
from labkit.precision.formats import DynamicScaler, format_info


def example_context() -> dict:
    """No notebook variable is read by these checks."""
    return {}


# --------------------------------------------------------------------------- Q1: largest


def _solution_q1():
    largest = (2 - 2**-10) * 2**15
    return largest


_RIGHT_EXPONENT = (
    "{largest:g} uses the right exponent (2^15) with the wrong mantissa: float16 has 10 "
    "mantissa bits, all set to 1"
)

q1 = Numeric(
    answers=["largest"],
    what="the largest float16 number",
    whole=True,  # like every float16 from 1024 up: matched exactly
    truth=float(torch.finfo(torch.float16).max),
    mistakes=[
        Mistake(
            "2^16",
            65536,
            "65536 = 2^16 is one step too far: it needs the exponent reserved for inf; the "
            "largest mantissa 1.1111111111 (binary) times 2^15 is a little less",
        ),
        Mistake(
            "uint16", 65535, "65535 is the largest 16-bit unsigned integer, not the largest float16"
        ),
        Mistake(
            "bfloat16's",
            float(torch.finfo(torch.bfloat16).max),
            "{largest:.4g} is bfloat16's largest number; float16 has 5 exponent bits",
            tolerance=dict(rel=1e-3),  # 3.39e38, as a learner may type it
        ),
        Mistake(
            "float32's",
            float(torch.finfo(torch.float32).max),
            "{largest:.4g} is float32's largest number; float16 has 5 exponent bits",
            tolerance=dict(rel=1e-3),
        ),
        Mistake("no mantissa", 2**15, _RIGHT_EXPONENT),
        Mistake("7 mantissa bits", 2**15 * (2 - 2**-7), _RIGHT_EXPONENT),
    ],
    wrong_message=(
        "{largest:g} is not it: (largest mantissa) x 2^(largest usable exponent - bias)"
    ),
    success=(
        "{truth:g} = (2 - 2^-10) x 2^15: the largest exponent that is not reserved for inf and "
        "NaN is 30 - 15 = 15, with every mantissa bit set. Anything from 65520 up rounds to inf."
    ),
    hints=[
        "The all-ones exponent is reserved for inf and NaN, so the largest usable exponent "
        "field is 11110 (30); float16's bias is 15.",
        "The mantissa with all 10 bits set is 1.1111111111 in binary, just under 2.",
    ],
    solution=_solution_q1,
    right=[
        Alternative("from torch.finfo", (torch.finfo(torch.float16).max,)),
        Alternative("from labkit", (format_info("float16").max,)),
        Alternative("as a float16 tensor", (torch.tensor(65504.0, dtype=torch.float16),)),
    ],
)


# --------------------------------------------------------------------------- Q2: the scale

_GRADIENT = 1e-9


def _survives(scale: float) -> bool:
    return float(torch.tensor(_GRADIENT * scale, dtype=torch.float64).to(torch.float16)) != 0


def _q2_facts(scale) -> dict:
    return {
        "product": _GRADIENT * scale,
        "tiny": format_info("float16").smallest_subnormal,
        "half": scale / 2,
    }


def _solution_q2():
    tiny = torch.finfo(torch.float16).smallest_normal * 2.0**-10  # the smallest subnormal
    scale = 1.0
    while 1e-9 * scale <= tiny / 2:  # at most half of it rounds to 0
        scale *= 2
    return scale


def _search():
    scale = 1.0
    while torch.tensor(1e-9 * scale).half() == 0:
        scale *= 2
    return (scale,)


q2 = Numeric(
    answers=["scale"],
    what="the loss scale",
    truth=32.0,
    tolerance=dict(abs=0),
    mistakes=[  # in this order: each test needs the ones before it to have failed
        Mistake(
            "negative",
            -32,
            "a loss scale is positive, got {scale:g}",
            when=lambda scale: scale <= 0,
        ),
        Mistake(
            "not a power of two",
            30,
            "{scale:g} is not a power of two (dynamic scalers use 2^k, exact to apply)",
            when=lambda scale: not math.log2(scale).is_integer(),
        ),
        Mistake(
            "one too small",
            16,
            "1e-9 x {scale:g} = {product:.3g} still rounds to 0: float16's smallest subnormal "
            "is {tiny:.3g}, and a value survives only above half of it",
            when=lambda scale: not _survives(scale),
        ),
        Mistake(
            "one too large",
            64,
            "{scale:g} works, but a smaller power of two works too",
            when=lambda scale: _survives(scale / 2),
        ),
    ],
    far_off=None,  # every wrong answer is one of the mistakes above
    facts=_q2_facts,
    success=(
        "1e-9 x {scale:g} = {product:.3g} is more than half of float16's smallest subnormal "
        "({tiny:.3g}), so it rounds up to it; with {half:g} it would round down to 0."
    ),
    hints=[
        "float16's smallest positive number is its smallest subnormal, 2^-24; anything below "
        "half of it rounds to zero.",
        "Try powers of two, 1, 2, 4, ..., and store 1e-9 times each in float16 until it is "
        "not zero.",
    ],
    solution=_solution_q2,
    wrong=[
        Planted("the usual initial scale", (65536,), "smaller power of two"),
        Planted("no scaling", (1,), "still rounds to 0"),
    ],
    right=[Alternative("found by search", _search), Alternative("as an int", (32,))],
)


# --------------------------------------------------------------------------- Q3: the rule

_FLAGS = [True, True, False, False, False, True, False, False, False, False, False, True, False]


def _torch_scales(interval: int) -> list[float]:
    """The scale after each flag of _FLAGS (inf or not), by the update GradScaler.update runs."""
    scale = torch.full((1,), 2.0**10)
    tracker = torch.zeros(1, dtype=torch.int32)
    out = []
    for found in _FLAGS:
        torch._amp_update_scale_(scale, tracker, torch.tensor([float(found)]), 2.0, 0.5, interval)
        out.append(float(scale))
    return out


def _swapped_gives(fn, scale, good, found, interval, truth) -> bool:
    """Whether ``fn`` gives GradScaler's scale when good_steps and found_inf are swapped."""
    try:
        out = call_learner(fn, scale, found, good, interval, what="next_scale")
        if not isinstance(out, tuple | list) or len(out) != 2:
            return False
        return want_number(out[0], "the new scale") == truth
    except Exception:  # only a probe for one likely mistake: any failure means "not this one"
        return False


def _check_q3(next_scale) -> str:
    fn = want_callable(next_scale, "next_scale")
    for interval in (3, 2):
        want = _torch_scales(interval)
        scale, good = 2.0**10, 0
        for step, (found, truth) in enumerate(zip(_FLAGS, want, strict=True)):
            out = call_learner(fn, scale, good, found, interval, what="next_scale")
            if not isinstance(out, tuple | list) or len(out) != 2:
                raise Wrong(f"next_scale should return (scale, good_steps), got {describe(out)}")
            new_scale = want_number(out[0], "the new scale")
            new_good = want_number(out[1], "the new count of good steps")
            if new_scale != truth:
                what = "an overflow" if found else "a good step"
                if _swapped_gives(fn, scale, good, found, interval, truth):
                    raise Wrong(
                        f"step {step}: your function reads good_steps and found_inf in swapped "
                        "order; it is called as next_scale(scale, good_steps, found_inf, "
                        "growth_interval)"
                    )
                if found and new_scale == scale:
                    raise Wrong(f"step {step}: after an overflow the scale must be halved")
                if not found and new_scale == 2 * scale and good + 1 < interval:
                    raise Wrong(
                        f"step {step}: the scale grew after {good + 1} good steps; it should "
                        f"wait for {interval} in a row"
                    )
                raise Wrong(
                    f"step {step} (growth_interval {interval}), after {what}: your scale is "
                    f"{new_scale:g}, GradScaler's is {truth:g}"
                )
            if found and new_good != 0:
                raise Wrong(f"step {step}: an overflow must reset the count of good steps to 0")
            scale, good = new_scale, new_good
    return (
        "same scale as torch.amp.GradScaler at every step, for two growth intervals: overflows "
        "halve it and reset the count, a full run of good steps doubles it."
    )


def _solution_q3():
    def next_scale(scale, good_steps, found_inf, growth_interval):
        if found_inf:
            return scale * 0.5, 0
        good_steps += 1
        if good_steps == growth_interval:
            return scale * 2.0, 0
        return scale, good_steps

    return next_scale


def _with_labkit():
    def next_scale(scale, good_steps, found_inf, growth_interval):
        s = DynamicScaler(init_scale=scale, growth_interval=growth_interval)
        s.good_steps = good_steps
        s.update(found_inf)
        return s.get_scale(), s.good_steps

    return (next_scale,)


q3 = Question(
    answers=["next_scale"],
    checker=_check_q3,
    hints=[
        "Two cases: an overflow (found_inf is True), and a good step. Only the second counts.",
        "After a good step, add one to the count; the scale changes only when the count "
        "reaches growth_interval, and then the count starts again from 0.",
    ],
    solution=_solution_q3,
    wrong=[
        Planted(
            "never halves",
            (lambda s, g, f, n: (s, 0) if f else ((s * 2, 0) if g + 1 == n else (s, g + 1)),),
            "halved",
        ),
        Planted(
            "grows every good step", (lambda s, g, f, n: (s / 2, 0) if f else (s * 2, 0),), "wait"
        ),
        Planted(
            "keeps the count after an overflow",
            (lambda s, g, f, n: (s / 2, g) if f else ((s * 2, 0) if g + 1 == n else (s, g + 1)),),
            "reset",
        ),
        Planted(
            "grows one step late",
            (lambda s, g, f, n: (s / 2, 0) if f else ((s * 2, 0) if g == n else (s, g + 1)),),
            "GradScaler's is",
        ),
        Planted(
            "good_steps and found_inf swapped",
            (lambda s, f, g, n: (s / 2, 0) if f else ((s * 2, 0) if g + 1 == n else (s, g + 1)),),
            "swapped order",
        ),
        Planted("returns a number", (lambda s, g, f, n: s,), "should return"),
        Planted("crashes", (lambda s, g, f, n: s / None,), "raised TypeError"),
    ],
    right=[Alternative("with labkit's DynamicScaler", _with_labkit)],
)

QUESTIONS = bind(globals())
