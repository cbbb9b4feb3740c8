"""The two-path estimator's active path: inside the sampled pair, the path that runs the forward
pass is drawn with the pair's rescaled probability q = softmax(alpha over the pair), not uniformly."""

from __future__ import annotations

import numpy as np

from core.space.proxyless import Mode, PathSampler


def test_active_path_inside_a_sampled_pair_follows_the_rescaled_probability():
    logits = np.tile(np.array([[1.0, 0.0, -1.0]]), (20_000, 1))  # one decision, drawn 20,000 times
    draw = PathSampler(seed=7).draw(logits, Mode.TWO_PATH)
    for i, j in ((0, 1), (0, 2), (1, 2)):
        rows = [r for r, pair in enumerate(draw.paths) if set(pair) == {i, j}]
        assert len(rows) > 500  # every pair is drawn often enough to measure
        share_i = np.mean([draw.active[r] == i for r in rows])
        q_i = np.exp(logits[0, i]) / (np.exp(logits[0, i]) + np.exp(logits[0, j]))
        # binomial sd <= 0.5/sqrt(500) = 0.022; picking uniformly in the pair gives 0.5 (q_i is 0.73..0.88)
        assert abs(share_i - q_i) < 0.06, (i, j, share_i, q_i)
