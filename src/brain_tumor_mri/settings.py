"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

import warnings

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from brain_tumor_mri.hooks import (
    InferenceInputHook,
    MlflowRunNameHook,
    ParameterCheckHook,
    RawDataLayoutHook,
)
from brain_tumor_mri.multi_worker import NonChiefWorkerHook, is_chief

# The one place where warnings are filtered: third-party warnings about third-party
# code that the project cannot change, each by its message and the module that warns.
# OmegaConf 2.4 deprecates register_new_resolver(), which Kedro's config loader and
# kedro-mlflow's hook still call (five warnings at the start of every run).
warnings.filterwarnings(
    "ignore",
    message=r"register_new_resolver\(\) is deprecated",
    category=UserWarning,
    module=r"(kedro\.config\.omegaconf_config|kedro_mlflow\.framework\.hooks\.mlflow_hook)$",
)
# MLflow registers its local-file dataset source twice (for "" and "file" URIs), so
# it warns on every local source of mlflow.log_input (the data set input of a run).
warnings.filterwarnings(
    "ignore",
    message=r"The specified dataset source can be interpreted in multiple ways",
    category=UserWarning,
    module=r"mlflow\.data\.dataset_source_registry$",
)

HOOKS = (
    ParameterCheckHook(),
    RawDataLayoutHook(),
    InferenceInputHook(),
    MlflowRunNameHook(),
    NonChiefWorkerHook(),
)
# A multi-worker training's worker that is not the chief opens no MLflow run. Kedro
# compares the distribution's name as its metadata spells it (kedro_mlflow for 2.0).
DISABLE_HOOKS_FOR_PLUGINS = () if is_chief() else ("kedro_mlflow", "kedro-mlflow")

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Lets conf/base/mlflow.yml read MLFLOW_TRACKING_URI from the environment.
    "custom_resolvers": {"oc.env": oc.env},
    # An environment (conf/quick, conf/scratch) holds only the parameters that differ
    # from base: its values are merged key by key into base's groups.
    "merge_strategy": {"parameters": "soft"},
}
