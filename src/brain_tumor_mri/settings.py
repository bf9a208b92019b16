"""Project settings; see https://docs.kedro.org/en/stable/configure/configuration_basics/."""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from brain_tumor_mri.framework.hooks import (
    FailedRunReasonHook,
    InferenceInputHook,
    MlflowRunNameHook,
    ModelUriCheckHook,
    ParameterCheckHook,
    RawDataLayoutHook,
    SiteFolderHook,
    SiteFolderTagHook,
)
from brain_tumor_mri.framework.multi_worker import NonChiefWorkerHook, is_chief
from brain_tumor_mri.framework.warning_filters import install_warning_filters

install_warning_filters()

HOOKS = (
    ParameterCheckHook(),
    RawDataLayoutHook(),
    InferenceInputHook(),
    SiteFolderHook(),
    ModelUriCheckHook(),
    MlflowRunNameHook(),
    SiteFolderTagHook(),
    FailedRunReasonHook(),
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
