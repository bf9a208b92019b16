"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from brain_tumor_mri.hooks import (
    InferenceInputHook,
    ParameterCheckHook,
    RawDataLayoutHook,
)

HOOKS = (ParameterCheckHook(), RawDataLayoutHook(), InferenceInputHook())

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets conf/base/mlflow.yml read MLFLOW_TRACKING_URI from the environment.
    "custom_resolvers": {"oc.env": oc.env},
    # An environment (conf/quick/, conf/local/) overrides only the parameter keys it
    # names, at any depth, and `--params group.key=value` overrides only that key on
    # every environment; the default "destructive" merge would replace whole groups.
    "merge_strategy": {"parameters": "soft"},
}
