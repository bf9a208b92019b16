"""Names of the artifacts that a servable model and its training run carry."""

# The artifact of the servable model that holds the ``.keras`` file.
KERAS_ARTIFACT = "keras_model"
# The training run's artifact that holds the temperature and the review threshold.
CALIBRATION_FILE = "calibration.json"
