#!/usr/bin/env python
"""Train the toy-world judge (lipe_engine/toyworld/judge.py): a pose network and an identity network.

Everything comes from the world's own API (Individual.random, random_scene, Scene.with_pose,
render_arrays, render_background, POSES) and from a seed, so the same command on the same world
writes the same file; run it again after the world changes.

1. a pool of renders: families of individuals that share kind and body colour (look-alikes, the
   hard negatives), each individual in several scenes (pose, facing, setting, place, scale), each
   scene also drawn in another pose in the same place (ghosts);
2. a part of the pool goes through the shipped toy model's VAE (encode + decode);
3. every batch is softened as a diffusion output is (blur, noise, colour drift, VAE, ghost);
   the pose network also sees "unclear" photos (no sprite, heavy blur, two poses half and half,
   a colour smear where the sprite was);
4. thresholds are fitted on a validation pool from another seed (never the tests' individuals)
   and written into the file with the weights.

    python scripts/train_judge.py [--seed 0] [--out resources/judge/judge.safetensors]

About 4 minutes on one CPU thread (the default).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lipe_engine.toyworld import KINDS, POSES, TOY_MODEL_DIR, random_scene, render_background
from lipe_engine.toyworld.judge_nets import (
    UNCLEAR,
    IdentityNet,
    Judge,
    JudgeConfig,
    PoseNet,
    net_input,
    save_judge,
)
from lipe_engine.toyworld.lookalikes import lookalike
from lipe_engine.toyworld.softening import (
    add_noise,
    colour_drift,
    gaussian_blur,
    ghost,
    load_vae,
    vae_round_trip,
)
from lipe_engine.toyworld.world import FACINGS, Individual

ROOT = Path(__file__).resolve().parents[1]
POSE_CLASSES = tuple(f"{kind}/{pose}" for kind in KINDS for pose in POSES[kind]) + (UNCLEAR,)
POSE_CONFIDENCE = 0.5  # decided before training: the target pose must be the most likely of the kind's
BACKGROUND_DB = 20.0  # decided before training: the VAE round trip alone leaves 23-32 dB outside the sprite


@dataclass
class Pool:
    images: torch.Tensor  # (n, 3, 64, 64) float in [0, 1]
    ghosts: torch.Tensor  # the same scene in another pose
    backgrounds: torch.Tensor
    masks: torch.Tensor  # (n, 1, 64, 64) sprite coverage
    vae: torch.Tensor  # VAE round trips of images (where has_vae)
    has_vae: torch.Tensor  # (n,) bool
    pose: torch.Tensor  # (n,) index into POSE_CLASSES
    facing: torch.Tensor
    individual: torch.Tensor  # (n,) id
    family: torch.Tensor


def _tensor(arrays: list[np.ndarray]) -> torch.Tensor:
    return torch.from_numpy(np.stack(arrays).astype(np.float32)).permute(0, 3, 1, 2).contiguous()


def build_pool(seed: int, families: int, members: int, views: int, vae, vae_share: float) -> Pool:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    images, ghosts, bgs, masks = [], [], [], []
    pose, facing, ind_id, fam_id = [], [], [], []
    n_ind = 0
    for f in range(families):
        base = Individual.random(rng, kind=KINDS[f % len(KINDS)])
        group = [base]
        while len(group) < members:
            group.append(lookalike(base, rng))
        for ind in group:
            for _ in range(views):
                scene = random_scene(rng, individual=ind)
                scene = replace(scene, scale=scene.scale * float(rng.uniform(0.8, 1.15)),
                                cx=scene.cx + float(rng.uniform(-6, 6)))
                img, mask = scene.render_arrays()
                others = [p for p in POSES[ind.kind] if p != scene.pose]
                other = scene.with_pose(others[int(rng.integers(len(others)))], FACINGS[int(rng.integers(2))])
                images.append(img)
                ghosts.append(other.render_arrays()[0])
                bgs.append(render_background(scene.setting, scene.bg_seed)[0])
                masks.append(mask[..., None])
                pose.append(POSE_CLASSES.index(f"{ind.kind}/{scene.pose}"))
                facing.append(FACINGS.index(scene.facing))
                ind_id.append(n_ind)
                fam_id.append(f)
            n_ind += 1
    imgs = _tensor(images)
    has_vae = torch.from_numpy(rng.random(len(images)) < vae_share)
    rt = imgs.clone()
    if vae is not None and has_vae.any():
        rt[has_vae] = vae_round_trip(vae, imgs[has_vae])
    return Pool(imgs, _tensor(ghosts), _tensor(bgs), _tensor(masks), rt, has_vae, torch.tensor(pose),
                torch.tensor(facing), torch.tensor(ind_id), torch.tensor(fam_id))


def soften_batch(pool: Pool, idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Photos of ``idx`` as a diffusion model's output could look, the pose still readable."""
    n = len(idx)
    use_vae = pool.has_vae[idx] & (torch.rand(n, generator=g) < 0.5)
    x = torch.where(use_vae[:, None, None, None], pool.vae[idx], pool.images[idx])
    a = torch.rand(n, generator=g) * 0.35 * (torch.rand(n, generator=g) < 0.35)
    x = ghost(x, pool.ghosts[idx], a)
    sigma = torch.rand(n, generator=g) * 1.2 * (torch.rand(n, generator=g) < 0.7)
    x = gaussian_blur(x, sigma)
    x = colour_drift(x, g)
    return add_noise(x, torch.rand(n, generator=g) * 0.03, g)


def unclear_batch(pool: Pool, idx: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Photos where no pose can be read: no sprite, a heavy blur, two poses at once, a colour smear."""
    n = len(idx)
    kind = torch.randint(0, 4, (n,), generator=g)
    sprite, bg = pool.images[idx], pool.backgrounds[idx]
    heavy = gaussian_blur(sprite, 2.2 + torch.rand(n, generator=g) * 2.0)
    half = ghost(sprite, pool.ghosts[idx], 0.4 + torch.rand(n, generator=g) * 0.2)
    cover = gaussian_blur(F.max_pool2d(pool.masks[idx], 5, 1, 2), 1.5 + torch.rand(n, generator=g) * 2)
    paint = gaussian_blur(torch.rand(n, 3, 8, 8, generator=g).repeat_interleave(8, 2).repeat_interleave(8, 3), 3.0)
    smear = bg * (1 - cover) + paint * cover
    x = torch.stack([bg, heavy, half, smear], 1)[torch.arange(n), kind]
    x = colour_drift(x, g)
    return add_noise(x, torch.rand(n, generator=g) * 0.03, g)


def train_pose(pool: Pool, steps: int, batch: int, g: torch.Generator, log) -> PoseNet:  # type: ignore[no-untyped-def]
    net = PoseNet(len(POSE_CLASSES))
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    n_unclear = batch // 4
    net.train()
    for step in range(steps):
        idx = torch.randint(0, len(pool.pose), (batch,), generator=g)
        clear = soften_batch(pool, idx[n_unclear:], g)
        vague = unclear_batch(pool, idx[:n_unclear], g)
        x = net_input(torch.cat([vague, clear]), pool.backgrounds[idx])
        pose_target = torch.cat([torch.full((n_unclear,), len(POSE_CLASSES) - 1), pool.pose[idx[n_unclear:]]])
        pose_logits, facing_logits = net(x)
        loss = F.cross_entropy(pose_logits, pose_target) + F.cross_entropy(
            facing_logits[n_unclear:], pool.facing[idx[n_unclear:]])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"pose step {step}/{steps} loss {loss.item():.3f}")
    return net.eval()


def identity_batch(pool: Pool, families: int, g: torch.Generator) -> torch.Tensor:
    """Indices: ``families`` families x all their individuals x 2 views each (look-alikes in-batch)."""
    fam = torch.randperm(int(pool.family.max()) + 1, generator=g)[:families]
    out = []
    for f in fam.tolist():
        for i in pool.individual[pool.family == f].unique().tolist():
            rows = torch.nonzero(pool.individual == i).flatten()
            out.append(rows[torch.randperm(len(rows), generator=g)[:2]])
    return torch.cat(out)


def supcon(emb: torch.Tensor, labels: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """Supervised contrastive loss: every other view of the same individual is a positive."""
    sim = emb @ emb.T / temperature
    self_mask = torch.eye(len(labels), dtype=torch.bool)
    sim = sim.masked_fill(self_mask, -1e9)
    pos = (labels[:, None] == labels[None, :]) & ~self_mask
    log_prob = sim - torch.logsumexp(sim, dim=1, keepdim=True)
    return -(log_prob * pos).sum(1).div(pos.sum(1).clamp(min=1)).mean()


def train_identity(pool: Pool, steps: int, families: int, g: torch.Generator, log) -> IdentityNet:  # type: ignore[no-untyped-def]
    net = IdentityNet()
    opt = torch.optim.AdamW(net.parameters(), lr=3e-3, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    net.train()
    for step in range(steps):
        idx = identity_batch(pool, families, g)
        x = net_input(soften_batch(pool, idx, g), pool.backgrounds[idx])
        loss = supcon(net(x), pool.individual[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == steps - 1:
            log(f"identity step {step}/{steps} loss {loss.item():.3f}")
    return net.eval()


@torch.no_grad()
def validate(pose_net: PoseNet, id_net: IdentityNet, val: Pool, g: torch.Generator, log) -> None:  # type: ignore[no-untyped-def]
    """Accuracies on a validation pool: pose, facing, unclear; identity across scenes."""
    soft = soften_batch(val, torch.arange(len(val.pose)), g)
    x = net_input(soft, val.backgrounds)
    pose_logits, facing_logits = pose_net(x)
    pose_ok = (pose_logits.argmax(1) == val.pose).float().mean().item()
    facing_ok = (facing_logits.argmax(1) == val.facing).float().mean().item()
    vague = unclear_batch(val, torch.arange(len(val.pose)), g)
    unclear_ok = (pose_net(net_input(vague, val.backgrounds))[0].argmax(1) == len(POSE_CLASSES) - 1)
    emb = id_net(x)
    sim = emb @ emb.T
    same_ind = val.individual[:, None] == val.individual[None, :]
    same_fam = val.family[:, None] == val.family[None, :]
    off_diag = ~torch.eye(len(val.pose), dtype=torch.bool)
    pos, neg = sim[same_ind & off_diag], sim[same_fam & ~same_ind]
    log(f"validation: pose {pose_ok:.1%}, facing {facing_ok:.1%}, unclear {unclear_ok.float().mean().item():.1%}; "
        f"identity across scenes: same individual median {pos.median().item():.3f}, look-alike median "
        f"{neg.median().item():.3f}")


def identity_threshold(judge: Judge, seed: int, n: int, vae, log) -> float:  # type: ignore[no-untyped-def]
    """The threshold as the judge uses it (edit-like cases of validation individuals, never the
    tests'): midway between the 3rd percentile of softened truths' identity and the 97th of
    look-alikes' (both softened, in the target pose, in place)."""
    from lipe_engine.toyworld.judge import judge_edits
    from lipe_engine.toyworld.judge_controls import control_sets, held_out_cases

    sets = control_sets(held_out_cases(seed, n), seed + 1, vae)
    cases = [s.case for s in sets]
    truth = np.array([v.identity for v in judge_edits([s.images["softened truth"] for s in sets], cases, judge)])
    other = np.array([v.identity for v in judge_edits([s.images["look-alike"] for s in sets], cases, judge)])
    lo, hi = float(np.percentile(truth, 3)), float(np.percentile(other, 97))
    threshold = (lo + hi) / 2
    log(f"identity threshold: softened truth p3 {lo:.3f}, look-alike p97 {hi:.3f} -> {threshold:.3f}; "
        f"truth kept {(truth >= threshold).mean():.1%}, look-alike refused {(other < threshold).mean():.1%}")
    return threshold


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "resources" / "judge" / "judge.safetensors"))
    ap.add_argument("--families", type=int, default=200, help="look-alike families in the training pool")
    ap.add_argument("--members", type=int, default=3, help="individuals per family")
    ap.add_argument("--views", type=int, default=4, help="scenes per individual")
    ap.add_argument("--pose-steps", type=int, default=700)
    ap.add_argument("--identity-steps", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--vae-share", type=float, default=1.0, help="part of the pool sent through the toy VAE")
    ap.add_argument("--model", default=str(TOY_MODEL_DIR), help="toy model folder whose VAE softens photos")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - t0:6.1f} s] {msg}", flush=True)

    vae = load_vae(args.model) if args.vae_share > 0 else None
    pool = build_pool(args.seed, args.families, args.members, args.views, vae, args.vae_share)
    log(f"training pool: {len(pool.pose)} renders of {int(pool.individual.max()) + 1} individuals")
    val = build_pool(args.seed + 1_000_003, 30, args.members, args.views, vae, args.vae_share)
    log(f"validation pool: {len(val.pose)} renders")
    g = torch.Generator().manual_seed(args.seed)
    pose_net = train_pose(pool, args.pose_steps, args.batch, g, log)
    id_net = train_identity(pool, args.identity_steps, args.batch // (2 * args.members), g, log)
    validate(pose_net, id_net, val, g, log)
    draft = JudgeConfig(POSE_CLASSES, POSE_CONFIDENCE, 0.0, BACKGROUND_DB, args.seed, "")
    threshold = identity_threshold(Judge(pose_net, id_net, draft), args.seed + 2_000_003, 90, vae, log)
    world = f"{len(KINDS)} kinds, {len(POSE_CLASSES) - 1} poses; {Individual.__module__}.Individual fields " + ",".join(
        Individual.__dataclass_fields__)
    config = JudgeConfig(POSE_CLASSES, POSE_CONFIDENCE, round(threshold, 4), BACKGROUND_DB, args.seed, world)
    path = save_judge(args.out, Judge(pose_net, id_net, config))
    log(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    main()
