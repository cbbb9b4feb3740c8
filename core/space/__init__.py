"""The search space: which ResNet-50 blocks are searched, and over which choices.

This package's face names the space's vocabulary, the one place each of its rules lives, from
three plain-data modules (importable without torch): :mod:`.scopes` (scopes, block ids counted
from the deepest bottleneck, progressive stages, stage layouts), :mod:`.vocabulary` (kernels,
activations, candidate names such as ``5x5/mish``, the derive rule) and :mod:`.search_space` (a
scope and its candidates as one value).  ``from core.space import X`` is how callers reach them.
What is built from them lives beside them:

- :mod:`.activations` -- the activation registry (name -> module, in-place switch);
- :mod:`.network` -- ResNet-50 and its search blocks, the network shape of a config;
- :mod:`.proxyless` -- mixed ops, binary gates, the gradient estimators and the rescale;
- :mod:`.arch` -- architecture files and the argmax of an alpha snapshot;
- :mod:`.geometry` -- map sizes per block and void kernel choices at an input size;
- :mod:`.cost` -- FLOPs, parameters and latency of each candidate, and the cost term.
"""

from core.space.scopes import (
    DEPTHS_RULE as DEPTHS_RULE,
)
from core.space.scopes import (
    PROGRESSIVE as PROGRESSIVE,
)
from core.space.scopes import (
    PROGRESSIVE_DEFAULT as PROGRESSIVE_DEFAULT,
)
from core.space.scopes import (
    RESNET50_DEPTHS as RESNET50_DEPTHS,
)
from core.space.scopes import (
    SCOPE_STAGES as SCOPE_STAGES,
)
from core.space.scopes import (
    BlockPosition as BlockPosition,
)
from core.space.scopes import (
    Scope as Scope,
)
from core.space.scopes import (
    block_id_list as block_id_list,
)
from core.space.scopes import (
    block_positions as block_positions,
)
from core.space.scopes import (
    block_stage as block_stage,
)
from core.space.scopes import (
    depths_ok as depths_ok,
)
from core.space.scopes import (
    progressive_label as progressive_label,
)
from core.space.scopes import (
    scope_block_ids as scope_block_ids,
)
from core.space.scopes import (
    scope_key as scope_key,
)
from core.space.scopes import (
    scope_label as scope_label,
)
from core.space.scopes import (
    scope_letters as scope_letters,
)
from core.space.scopes import (
    scope_name as scope_name,
)
from core.space.scopes import (
    validate_block_ids as validate_block_ids,
)
from core.space.scopes import (
    validate_depths as validate_depths,
)
from core.space.scopes import (
    validate_progressive as validate_progressive,
)
from core.space.scopes import (
    validate_scope as validate_scope,
)
from core.space.search_space import (
    SearchSpace as SearchSpace,
)
from core.space.vocabulary import (
    ACTIVATION_ALIASES as ACTIVATION_ALIASES,
)
from core.space.vocabulary import (
    ACTIVATIONS as ACTIVATIONS,
)
from core.space.vocabulary import (
    BASE_ACTIVATION as BASE_ACTIVATION,
)
from core.space.vocabulary import (
    BASE_KERNEL as BASE_KERNEL,
)
from core.space.vocabulary import (
    CANDIDATE_MODES as CANDIDATE_MODES,
)
from core.space.vocabulary import (
    DECISIONS as DECISIONS,
)
from core.space.vocabulary import (
    JOINT_DECISION as JOINT_DECISION,
)
from core.space.vocabulary import (
    KERNELS as KERNELS,
)
from core.space.vocabulary import (
    PAPER_ACTIVATIONS as PAPER_ACTIVATIONS,
)
from core.space.vocabulary import (
    PAPER_KERNELS as PAPER_KERNELS,
)
from core.space.vocabulary import (
    STEMS as STEMS,
)
from core.space.vocabulary import (
    Activation as Activation,
)
from core.space.vocabulary import (
    CandidateMode as CandidateMode,
)
from core.space.vocabulary import (
    Kernel as Kernel,
)
from core.space.vocabulary import (
    Stem as Stem,
)
from core.space.vocabulary import (
    argmax_label as argmax_label,
)
from core.space.vocabulary import (
    block_choice as block_choice,
)
from core.space.vocabulary import (
    joint_name as joint_name,
)
from core.space.vocabulary import (
    marginals as marginals,
)
from core.space.vocabulary import (
    parse_joint as parse_joint,
)
from core.space.vocabulary import (
    validate_activations as validate_activations,
)
from core.space.vocabulary import (
    validate_kernels as validate_kernels,
)
