"""Every setting of a run: the model tree (:mod:`.models`), where a config comes from
(:mod:`.load`), command-line overrides (:mod:`.overrides`) and the void-kernel wording
(:mod:`.void`).  Front ends import from here; the names below are the package's vocabulary."""

from core.config.load import (
    ConfigError,
    apply_overrides,
    dump_yaml,
    format_validation_error,
    load_config,
    load_yaml,
    quickstart,
    validate,
)
from core.config.models import (
    DEVICE_KINDS,
    Amp,
    ChannelsLast,
    Config,
    CostConfig,
    DataConfig,
    Dataset,
    NetworkConfig,
    RetrainConfig,
    RunConfig,
    SearchConfig,
    SpaceConfig,
    check_stop_at,
    no_search_problem,
)
from core.config.overrides import check_key, parse_set
from core.config.void import VOID_KERNELS_FIX, check_void_kernels, void_kernels_fact, void_warning

__all__ = [
    "DEVICE_KINDS",
    "VOID_KERNELS_FIX",
    "Amp",
    "ChannelsLast",
    "Config",
    "ConfigError",
    "CostConfig",
    "DataConfig",
    "Dataset",
    "NetworkConfig",
    "RetrainConfig",
    "RunConfig",
    "SearchConfig",
    "SpaceConfig",
    "apply_overrides",
    "check_key",
    "apply_overrides",
    "check_key",
    "check_stop_at",
    "check_void_kernels",
    "dump_yaml",
    "format_validation_error",
    "load_config",
    "load_yaml",
    "no_search_problem",
    "parse_set",
    "parse_set",
    "quickstart",
    "validate",
    "void_kernels_fact",
    "void_warning",
]
