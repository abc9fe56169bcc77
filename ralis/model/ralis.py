"""RALIS [P§4, Fig. 1]: per-view encoders -> MagNorm -> attention fusion -> MoE head, trained with the
classification loss (Eq. 11), the adjusted-center contrastive loss (Eq. 6) and separate load balancing (Eq. 12).

Dimension legend: V views, N rows (Nc classification + Nu contrastive rows in training), D embedding width,
E experts, C classes. Embeddings z [V, N, D] (zeros where a view is missing), presence mask present [N, V].
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ralis.config import AblationConfig, LossConfig, ModelConfig, Params
from ralis.contract import MultiviewBatch, ViewSpec, check_embeddings
from ralis.methods import LossTerms, MultiviewMethod, register
from ralis.model.bank import EncoderBank
from ralis.model.contrastive import adjusted_center_loss, full_graph_loss
from ralis.model.fusion import AttentionFusion
from ralis.model.heads import MLPHead
from ralis.model.moe import MoEHead, MoEOutput, balance_loss

__all__ = ["RALIS", "build_ralis"]


class RALIS(MultiviewMethod):
    """The RALIS model; `ablation` holds the Table 5 switches (all defaults = the full model)."""

    def __init__(self, views: Sequence[ViewSpec], n_classes: int, model: ModelConfig | None = None,
                 ablation: AblationConfig | None = None, loss: LossConfig | None = None):
        super().__init__(views, n_classes)
        self.cfg, self.ablation = model or ModelConfig(), ablation or AblationConfig()
        self.loss_cfg = loss or LossConfig()
        cfg, ab = self.cfg, self.ablation
        self.encoders = EncoderBank(self.view_specs, cfg, magnorm=ab.magnorm)
        self.fusion = AttentionFusion(cfg, ab)
        self.head: nn.Module = MoEHead(n_classes, cfg) if ab.moe else MLPHead(n_classes, cfg)

    # ---- inference path -------------------------------------------------------------------------------------

    def embed(self, views: Sequence[torch.Tensor], present: torch.Tensor) -> torch.Tensor:
        """z^(v) = MagNorm(f^(v)(x^(v))) on the present rows only, Eq. (13): -> [V, N, D], zeros elsewhere."""
        return self.encoders(views, present)

    def encode(self, batch: MultiviewBatch) -> torch.Tensor:
        if batch.n_views != self.n_views:
            raise ValueError(f"batch has {batch.n_views} views but the model was built for {self.n_views} "
                             f"({list(self.view_names)})")
        return self.embed(batch.views, batch.present)

    def predict(self, z: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """Logits from the fused token only [P§4]: z [V, N, D], present [N, V] -> [N, C]."""
        check_embeddings(z, present)
        return self.head(self.fusion(z, present).fused).logits

    # ---- training objective ---------------------------------------------------------------------------------

    def training_losses(self, cls: MultiviewBatch, con: MultiviewBatch) -> LossTerms:
        """L = w_cls L_cls + w_contrast L_AC + w_balance L_LB from ONE encoder pass over cls + con rows (§1.8)."""
        if cls.labels is None:
            raise ValueError("the classification batch needs labels (MultiviewBatch.labels is None)")
        nc = len(cls)
        both = cls.cat(con)  # Nc + Nu rows
        present = both.present  # [Nc+Nu, V]
        z = self.encode(both)  # [V, Nc+Nu, D]; BatchNorm sees all rows
        fusion = self.fusion(z, present)  # weights [V, Nc+Nu]
        ab, lc = self.ablation, self.loss_cfg

        l_con = self._contrastive(z[:, nc:], present[nc:], fusion.weights[:, nc:])
        l_cls, l_bal, logs = self._classification(z[:, :nc], cls.present, fusion.fused[:nc], cls.labels)
        w_con = lc.w_contrast if ab.contrast else 0.0
        total = lc.w_cls * l_cls + w_con * l_con + lc.w_balance * l_bal
        logs.update(self._attention_logs(fusion.weights[:, :nc]))
        terms = {k: float(v.detach()) for k, v in (("cls", l_cls), ("contrast", l_con), ("balance", l_bal),
                                                    ("total", total))}
        return LossTerms(total, terms, logs)

    def _contrastive(self, z: torch.Tensor, present: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        """L_AC, Eq. (6), on the contrastive rows; the full-graph loss for "+full graph"; 0 for "-contrast"."""
        tau, red = self.loss_cfg.tau, self.loss_cfg.pair_reduction
        if not self.ablation.contrast:
            return z.new_zeros(())
        if self.ablation.full_graph:
            return full_graph_loss(z, present, tau, red).loss
        return adjusted_center_loss(z, present, weights, tau, red).loss

    def _classification(self, z: torch.Tensor, present: torch.Tensor, fused: torch.Tensor,
                        labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, dict]:
        """L_cls, Eq. (11) masked as A8 (mean over heads with >= 1 token), and L_LB, Eq. (12), separately (A9)."""
        out_f = self.head(fused)  # fused tokens [Nc, D]
        heads = [F.cross_entropy(out_f.logits, labels)]
        logs = {}
        out_s = None
        if self.ablation.ind_view:
            m = present.T  # [V, Nc]
            tokens = z[m]  # [T, D]: every present single-view token, view-major
            view_of = torch.arange(self.n_views, device=z.device)[:, None].expand_as(m)[m]  # [T]
            out_s = self.head(tokens)
            ce = F.cross_entropy(out_s.logits, labels[None, :].expand_as(m)[m], reduction="none")  # [T]
            count = m.sum(1)  # [V]
            ce_view = torch.zeros(self.n_views, dtype=ce.dtype, device=ce.device).index_add(0, view_of, ce)
            heads += list((ce_view / count.clamp_min(1))[count > 0].unbind())  # per-view batch mean CE
        l_cls = torch.stack(heads).mean()
        l_bal = fused.new_zeros(())
        if out_f.gates is not None:
            l_bal = self._balance(out_f, out_s)
            logs["gate_fused"] = (out_f.importance / len(fused)).tolist()
            if out_s is not None:
                logs["gate_single"] = (out_s.importance / len(out_s.gates)).tolist()
        return l_cls, l_bal, logs

    def _balance(self, fused: MoEOutput, single: MoEOutput | None) -> torch.Tensor:
        """L_LB = L_balance(single tokens) + L_balance(fused tokens) (A9); "-sep. load": one term over all tokens."""
        if single is None:
            return balance_loss(fused.importance, fused.load)
        if self.ablation.sep_load:
            return balance_loss(single.importance, single.load) + balance_loss(fused.importance, fused.load)
        # importance and load are sums over tokens, so the union's are the sums of the two groups'
        return balance_loss(single.importance + fused.importance, single.load + fused.load)

    @staticmethod
    def _attention_logs(w: torch.Tensor) -> dict:
        """Mean attention weight per view over the cls rows (0 where the view is missing, so entries sum to 1)."""
        return {"att_weights": w.detach().mean(dim=1).tolist()}  # [V]


@register("ralis")
def build_ralis(views: Sequence[ViewSpec], n_classes: int, params: Params) -> RALIS:
    """Build RALIS from params.yaml's model, ablation and loss sections."""
    return RALIS(views, n_classes, params.model, params.ablation, params.loss)
