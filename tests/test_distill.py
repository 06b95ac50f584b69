"""labkit.distill: the loss against PyTorch's reference, the classic bugs it must not have, the
teacher run once in eval mode, the paired student loop, compressed students, and the table."""

import copy
import json
import math

import pytest
import torch
import torch.nn.functional as F

from labkit import compress as C
from labkit import distill as D
from labkit.data import load_digits
from labkit.distill import table as DT
from labkit.models import SmallCNN, weight_layers
from labkit.zoo import load_pretrained


def _logits(n=8, classes=10, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(n, classes, generator=g) * 3,
        torch.randn(n, classes, generator=g) * 3,
        torch.randint(0, classes, (n,), generator=g),
    )


@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0, 4.0, 20.0])
@pytest.mark.parametrize("weight", [0.0, 0.3, 1.0])
def test_the_loss_from_scratch_matches_kl_div_batchmean(temperature, weight):
    s, t, y = _logits()
    ours = D.distillation_loss(s, t, y, temperature, weight)
    reference = D.reference_loss(s, t, y, temperature, weight)
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-6)
    by_hand = weight * temperature**2 * F.kl_div(
        F.log_softmax(s / temperature, 1), F.softmax(t / temperature, 1), reduction="batchmean"
    ) + (1 - weight) * F.cross_entropy(s, y)
    torch.testing.assert_close(ours, by_hand, rtol=1e-5, atol=1e-6)


def test_the_default_mean_reduction_would_shrink_the_term_by_the_number_of_classes():
    s, t, y = _logits(classes=10)
    kd = D.distillation_loss(s, t, y, temperature=3, weight=1.0) / 9  # T^2 removed
    mean = F.kl_div(
        F.log_softmax(s / 3, 1), F.log_softmax(t / 3, 1), reduction="mean", log_target=True
    )
    torch.testing.assert_close(mean * 10, kd, rtol=1e-5, atol=1e-6)
    assert not math.isclose(float(mean), float(kd), rel_tol=0.5)  # the bug is caught


def test_t_squared_keeps_the_gradient_size_as_temperature_grows():
    s, t, y = _logits(n=64)
    sizes = {}
    for T in (2.0, 8.0):
        x = s.clone().requires_grad_()
        D.distillation_loss(x, t, y, T, 1.0).backward()
        sizes[T] = float(x.grad.norm())
    # Without T^2 the gradient would shrink about 16x from T=2 to T=8; with it, it stays close.
    assert 0.3 < sizes[8.0] / sizes[2.0] < 3


def test_the_teacher_is_a_fixed_target():
    s, t, y = _logits()
    t = t.clone().requires_grad_()
    D.distillation_loss(s.requires_grad_(), t, y).backward()
    assert t.grad is None


def test_teacher_logits_are_computed_in_eval_mode_and_leave_the_teacher_as_it_was():
    data = load_digits()
    teacher = load_pretrained("baseline")
    split = data.test.subset(100)
    with torch.no_grad():
        expected = teacher.eval()(split.X)
    teacher.train()  # a teacher left in training mode: batch statistics, running stats updated
    stats = copy.deepcopy(teacher.state_dict())
    got = D.teacher_logits(teacher, split, batch_size=7)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    assert not got.requires_grad  # no graph kept: 55,000 images' activations would be gigabytes
    assert teacher.training  # mode restored
    for k, v in teacher.state_dict().items():
        assert torch.equal(v, stats[k]), k  # running statistics untouched
    with torch.no_grad():
        in_train_mode = teacher(split.X)
    assert not torch.allclose(in_train_mode, expected, atol=1e-3)  # the bug would show


@pytest.mark.parametrize("temperature", [0, -1.0, float("nan"), float("inf"), "2"])
def test_a_bad_temperature_is_refused_by_name(temperature):
    s, t, y = _logits()
    with pytest.raises((ValueError, TypeError), match="temperature"):
        D.distillation_loss(s, t, y, temperature=temperature)
    with pytest.raises((ValueError, TypeError), match="temperature"):
        D.soften(t, temperature)


@pytest.mark.parametrize("weight", [-0.1, 1.5, float("nan"), None])
def test_a_weight_outside_zero_one_is_refused_by_name(weight):
    s, t, y = _logits()
    with pytest.raises((ValueError, TypeError), match="weight"):
        D.distillation_loss(s, t, y, weight=weight)


def test_teacher_and_student_with_different_numbers_of_classes_are_refused():
    s, _, y = _logits(classes=10)
    t = torch.randn(8, 5)
    with pytest.raises(ValueError, match="same number of classes"):
        D.distillation_loss(s, t, y)
    with pytest.raises(ValueError, match="same number of classes"):
        D.reference_loss(s, t, y)
    data = load_digits()
    train = data.train.subset(64)
    with pytest.raises(ValueError, match="same number of classes"):
        D.train_student(SmallCNN(width=2, num_classes=5), train, torch.randn(64, 10), epochs=1)


def test_other_bad_inputs_get_clear_errors():
    s, t, y = _logits()
    with pytest.raises(ValueError, match="same images"):
        D.distillation_loss(s, t[:4], y)
    with pytest.raises(ValueError, match="'y'"):
        D.distillation_loss(s, t, y[:3])
    with pytest.raises(ValueError, match="NaN"):
        D.distillation_loss(s * float("nan"), t, y)
    train = load_digits().train.subset(64)
    with pytest.raises(ValueError, match="targets"):
        D.train_student(SmallCNN(width=2), train, torch.randn(10, 10), epochs=1)
    with pytest.raises(TypeError, match="teacher"):
        D.teacher_logits("baseline", train)
    with pytest.raises(TypeError, match="steps"):
        C.compress(SmallCNN(), "factorised")
    with pytest.raises(ValueError, match="order"):
        C.compress(SmallCNN(), [C.QuantizeAware(4), C.Prune(0.5)])
    with pytest.raises(ValueError, match="sparsity"):
        C.Prune(1.5)
    with pytest.raises(ValueError, match="no gap"):
        D.gap_recovered(99.0, 99.0, 99.5)


def test_solo_and_distilled_share_initial_weights_and_batch_order():
    train = load_digits().train.subset(128)
    targets = torch.randn(128, 10)
    a, b, c = (D.student(2, seed=3) for _ in range(3))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    D.train_student(a, train, None, epochs=2, seed=5, progress=False)
    D.train_student(b, train, targets, weight=0.0, epochs=2, seed=5, progress=False)
    D.train_student(c, train, targets, weight=0.5, epochs=2, seed=5, progress=False)
    # weight 0 is the labels alone: the same steps on the same batches, the same model
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    assert not a.training


def test_compressed_students_stay_compressed_while_they_learn():
    data = load_digits()
    teacher = load_pretrained("baseline").eval()
    train = data.train.subset(128)
    targets = D.teacher_logits(teacher, train)
    assert set(DT.COMPRESSIONS) >= {"pruned", "qat"}
    pruned = C.compress(teacher, DT.COMPRESSIONS["pruned"][0])
    D.train_student(
        pruned.net, train, targets, epochs=1, seed=0, after_step=pruned.after_step, progress=False
    )
    weights = [m.weight for m in weight_layers(pruned.finish()).values()]
    zeros = sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)
    assert zeros >= 0.89
    qat = C.compress(teacher, DT.COMPRESSIONS["qat"][0])
    D.train_student(qat.net, train, targets, epochs=1, seed=0, progress=False)
    net = qat.finish()
    for w in (m.weight for m in weight_layers(net).values()):
        assert max(len(torch.unique(row)) for row in w.reshape(len(w), -1)) <= 4  # 2 bits
    assert sum(p.numel() for p in teacher.parameters()) > 0  # the teacher itself is untouched


def test_gap_recovered():
    assert D.gap_recovered(99.0, 90.0, 94.5) == pytest.approx(0.5)
    assert D.gap_recovered(99.0, 90.0, 88.2) == pytest.approx(-0.2)


def test_the_stored_table_reads_and_a_damaged_one_says_how_to_rebuild(tmp_path):
    table = DT.DistillTable.load()
    row = table.students()[0]
    gain = table.student_gain(row["width"], row["n_train"])
    assert len(gain.solo) == len(gain.distilled) == len(table.record["seeds"]) >= 5
    assert table.size_ratio(row["width"]) >= 5
    for method in table.methods():
        entry = table.compressed(method)
        assert entry["gap_recovered"].n == len(table.record["seeds"])
    bad = tmp_path / "t.json"
    bad.write_text(json.dumps({"meta": {}}))
    with pytest.raises(ValueError, match="build-table"):
        DT.DistillTable.load(bad)
    with pytest.raises(FileNotFoundError, match="build-table"):
        DT.DistillTable.load(tmp_path / "missing.json")


def test_the_build_time_has_one_source_the_stored_table():
    seconds = DT.DistillTable.load().meta["seconds"]
    assert math.ceil(seconds / 60) == DT.BUILD_MINUTES


def test_the_factorized_student_is_a_smaller_copy_of_the_teacher():
    teacher = load_pretrained("baseline").eval()
    model = C.compress(teacher, DT.COMPRESSIONS["factorized"][0])
    assert sum(p.numel() for p in teacher.parameters()) > 3 * sum(
        p.numel() for p in model.net.parameters()
    )
    assert model.after_step is None and model.finish() is model.net


def test_the_gain_grid_writes_every_value_and_frames_the_resolvable_cells():
    import matplotlib.pyplot as plt

    from labkit.distill.plots import plot_gain_grid

    ax = plot_gain_grid([[0.5, -1.0]], [[False, True]], ["a", "b"], ["T=1"])
    assert [t.get_text() for t in ax.texts] == ["+0.50", "-1.00*"]
    assert len(ax.patches) == 1
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="same shape"):
        plot_gain_grid([[0.5, -1.0]], [[True]], ["a", "b"], ["T=1"])


def test_a_live_teacher_trains_the_student_as_its_stored_logits_do_and_keeps_its_mode():
    data = load_digits()
    teacher = load_pretrained("baseline").train()  # left in training mode by its owner
    train = data.train.subset(128)
    a, b = D.student(4, seed=2), D.student(4, seed=2)
    D.train_student(a, train, teacher, epochs=1, seed=3, progress=False)
    assert teacher.training  # its mode comes back
    D.train_student(b, train, D.teacher_logits(teacher, train), epochs=1, seed=3, progress=False)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q, rtol=1e-4, atol=1e-5)  # the same targets, the same steps
    fresh = D.student(4, seed=2)
    assert not all(
        torch.equal(p, q) for p, q in zip(a.parameters(), fresh.parameters(), strict=True)
    )


def test_the_distillation_loss_goes_to_fit_and_fit_options_go_through(data):
    from labkit.train import fit

    teacher = load_pretrained("baseline").eval()
    train, val = data.train.subset(128), data.val
    targets = D.teacher_logits(teacher, train)
    a, b = D.student(4, seed=1), D.student(4, seed=1)
    D.train_student(a, train, targets, epochs=1, seed=2, progress=False)
    fit(
        b,
        train,
        epochs=1,
        lr=1e-2,
        schedule="onecycle",
        seed=2,
        progress=False,
        loss_fn=D.loss_for(targets),
    )  # the same run, through fit directly
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        torch.testing.assert_close(p, q)
    history = D.train_student(
        D.student(4), train, targets, epochs=2, val=val, max_steps=3, progress=False
    )
    assert len(history.val_acc) == 2 and len(history.batch_loss) == 3  # 2 steps, then 1
