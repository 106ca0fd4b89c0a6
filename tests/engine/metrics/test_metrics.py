"""Metric formulas on hand-made embeddings, and the encoders on tiny DINOv2/CLIP saved to disk."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from PIL import Image

from lipe_engine.encoders import ClipEncoder, DinoEncoder
from lipe_engine.encoders.tiny import build_tiny_clip, build_tiny_dinov2
from lipe_engine.errors import ModelLoadError
from lipe_engine.metrics import formulas
from lipe_engine.metrics.scorer import Scorer


def test_cosine_hand_values():
    a = torch.tensor([1.0, 0.0, 0.0])
    assert float(formulas.cosine(a, torch.tensor([2.0, 0.0, 0.0]))) == pytest.approx(1.0)
    assert float(formulas.cosine(a, torch.tensor([0.0, 3.0, 0.0]))) == pytest.approx(0.0)
    assert float(formulas.cosine(a, torch.tensor([-1.0, 0.0, 0.0]))) == pytest.approx(-1.0)
    # 45 degrees, unnormalised inputs: scale must not matter
    assert float(formulas.cosine(torch.tensor([3.0, 0.0]), torch.tensor([5.0, 5.0]))) == pytest.approx(
        1 / math.sqrt(2)
    )
    # batched: one value per row
    rows = formulas.cosine(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), torch.tensor([[1.0, 1.0], [1.0, 1.0]]))
    assert rows.tolist() == pytest.approx([1 / math.sqrt(2)] * 2)
    # zero vector has no direction
    assert float(formulas.cosine(torch.zeros(3), a)) == 0.0
    with pytest.raises(ValueError):
        formulas.cosine(torch.ones(3), torch.ones(4))


def test_image_similarity_is_dino_and_clip_i():
    src = torch.tensor([[1.0, 2.0, 2.0]])  # |src| = 3
    edit = torch.tensor([[2.0, 1.0, -2.0]])  # |edit| = 3, <src, edit> = 2 + 2 - 4 = 0
    assert float(formulas.image_similarity(src, edit)[0]) == pytest.approx(0.0)
    edit2 = torch.tensor([[2.0, 2.0, 1.0]])  # <src, edit2> = 2 + 4 + 2 = 8 -> 8/9
    assert float(formulas.image_similarity(src, edit2)[0]) == pytest.approx(8 / 9)


def test_clip_t_eq11():
    img = torch.tensor([0.6, 0.8, 0.0])
    txt = torch.tensor([0.0, 2.0, 0.0])
    assert float(formulas.clip_t(img, txt)[0]) == pytest.approx(0.8)


def test_clip_d_eq12_direction_not_position():
    # images move along +x, texts move along +x too but from a different origin: CLIP-D = 1
    i0, i1 = torch.tensor([1.0, 1.0, 0.0]), torch.tensor([3.0, 1.0, 0.0])
    t0, t1 = torch.tensor([0.0, 5.0, 5.0]), torch.tensor([0.5, 5.0, 5.0])
    assert float(formulas.clip_d(i0, i1, t0, t1)[0]) == pytest.approx(1.0)
    # text moves the opposite way: -1; orthogonal: 0
    assert float(formulas.clip_d(i0, i1, t1, t0)[0]) == pytest.approx(-1.0)
    assert float(formulas.clip_d(i0, i1, t0, t0 + torch.tensor([0.0, 0.0, 1.0]))[0]) == pytest.approx(0.0)
    # dI = (1, 1, 0), dT = (1, 0, 0): cos = 1/sqrt(2); swapping source/target image flips the sign
    j1 = torch.tensor([2.0, 2.0, 0.0])
    tx = t0 + torch.tensor([1.0, 0.0, 0.0])
    assert float(formulas.clip_d(i0, j1, t0, tx)[0]) == pytest.approx(1 / math.sqrt(2))
    assert float(formulas.clip_d(j1, i0, t0, tx)[0]) == pytest.approx(-1 / math.sqrt(2))
    # an unchanged image has no direction
    assert float(formulas.clip_d(i0, i0.clone(), t0, t1)[0]) == 0.0


def test_mean_skips_missing():
    assert formulas.mean([1.0, None, 3.0, float("nan")]) == pytest.approx(2.0)
    assert formulas.mean([None]) is None


@pytest.fixture(scope="module")
def tiny_metric_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("metric_models")
    return build_tiny_dinov2(root / "dinov2"), build_tiny_clip(root / "clip")


def _img(color: tuple[int, int, int], size=(40, 30)) -> Image.Image:
    im = Image.new("RGB", size, color)
    for x in range(0, size[0], 5):
        im.putpixel((x, x % size[1]), (255 - color[0], 255 - color[1], 255 - color[2]))
    return im


def test_tiny_encoders_load_and_embed(tiny_metric_dirs):
    dino_dir, clip_dir = tiny_metric_dirs
    dino = DinoEncoder(dino_dir, device="cpu")
    clip = ClipEncoder(clip_dir, device="cpu")
    a, b = _img((200, 30, 30)), _img((20, 40, 220), size=(30, 50))
    d = dino.images([a, b, a])
    c = clip.images([a, b])
    t = clip.texts(["a photo of a dog sitting", "a photo of a dog standing on the grass"])
    assert d.shape == (3, 32) and c.shape == (2, 16) and t.shape == (2, 16)
    # the encoders' own outputs, not normalised (Eq. 12 differences them as they are)
    assert torch.allclose(c, clip.model.visual_projection(
        clip.model.vision_model(pixel_values=clip.processor(images=[a, b], return_tensors="pt")["pixel_values"])
        .pooler_output).detach(), atol=1e-5)
    assert not torch.allclose(t.norm(dim=-1), torch.ones(2), atol=1e-3)
    assert torch.allclose(d[0], d[2], atol=1e-5)  # same image, same embedding
    assert not torch.allclose(d[0], d[1], atol=1e-3)  # different images differ
    assert not torch.allclose(t[0], t[1], atol=1e-3)


def test_scorer_matches_formulas(tiny_metric_dirs):
    dino_dir, clip_dir = tiny_metric_dirs
    scorer = Scorer.load(dino_dir, clip_dir, device="cpu")
    a, b = _img((200, 30, 30)), _img((20, 200, 60))
    src_p, tgt_p = "a photo of a dog sitting", "a photo of a dog standing"
    s = scorer.score(a, b, src_p, tgt_p)
    d = scorer.dino.images([a, b])
    c = scorer.clip.images([a, b])
    t = scorer.clip.texts([src_p, tgt_p])
    def cos(x, y):  # noqa: ANN001, ANN202
        return float(x @ y / (x.norm() * y.norm()))

    assert s["dinov2_i"] == pytest.approx(cos(d[0], d[1]), abs=1e-5)
    assert s["clip_i"] == pytest.approx(cos(c[0], c[1]), abs=1e-5)
    assert s["clip_t"] == pytest.approx(cos(c[1], t[1]), abs=1e-5)
    di, dt = c[1] - c[0], t[1] - t[0]
    assert s["clip_d"] == pytest.approx(float(di @ dt / (di.norm() * dt.norm())), abs=1e-5)
    # the extra column: the same on unit embeddings, which differs when the norms differ
    cu, tu = c / c.norm(dim=-1, keepdim=True), t / t.norm(dim=-1, keepdim=True)
    ui, ut = cu[1] - cu[0], tu[1] - tu[0]
    assert s["clip_d_norm"] == pytest.approx(float(ui @ ut / (ui.norm() * ut.norm())), abs=1e-5)
    same = scorer.score(a, a, src_p, tgt_p)
    assert same["dinov2_i"] == pytest.approx(1.0, abs=1e-5) and same["clip_i"] == pytest.approx(1.0, abs=1e-5)
    assert s["dinov2_i"] < 0.999


def test_missing_models_give_one_line_errors(tmp_path):
    with pytest.raises(ModelLoadError) as e:
        DinoEncoder(tmp_path / "nope", device="cpu")
    assert "does not exist" in str(e.value) and "--dino-model" in str(e.value)
    with pytest.raises(ModelLoadError) as e:
        ClipEncoder("someone/not-a-cached-clip", device="cpu")
    msg = str(e.value)
    assert "not in the Hugging Face cache" in msg and "hf download someone/not-a-cached-clip" in msg
    assert "\n" not in msg
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        ClipEncoder(tmp_path / "empty", device="cpu")


def test_clip_d_is_eq12_on_raw_embeddings_and_the_normalised_variant_differs():
    # x_ori = [1, 0], x_tar = [0, 2]; y_ori = [1, 0], y_tar = [0, 1]
    # Eq. 12 as written: dI = [-1, 2], dT = [-1, 1]: cos = 3 / (sqrt 5 sqrt 2)
    i0, i1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 2.0])
    t0, t1 = torch.tensor([1.0, 0.0]), torch.tensor([0.0, 1.0])
    assert float(formulas.clip_d(i0, i1, t0, t1)[0]) == pytest.approx(3 / math.sqrt(10))
    # unit embeddings first: dI = [-1, 1] = dT: cos = 1
    assert float(formulas.clip_d_normalised(i0, i1, t0, t1)[0]) == pytest.approx(1.0)
