"""The servable MLflow model: an ``ImageClassifier`` pyfunc (``image_classifier``) that
answers requests of base64-encoded images (``request``).

Its input is a DataFrame with one string column ``image`` (each a base64-encoded
JPEG, PNG or DICOM of any size and colour mode), its output the ``predicted_class``,
one calibrated ``probability_<class>`` column per class and ``needs_review`` (the
confidence is under the review threshold); the temperature and the threshold are those fitted in the
model's training run (``calibration.json``, carried as an artifact of the servable
model). Each image is decoded and prepared with ``brain_tumor_mri.core.images.loading.load_rgb`` at
the Keras model's own input size, as preprocessing did for training, so serving never
drifts from training. A payload it cannot use raises an ``MlflowException`` with
``INVALID_PARAMETER_VALUE``, which MLflow's scoring server answers with HTTP 400 and
the message. ``brain_tumor_mri.datasets.MlflowServableModelDataset`` logs and registers
it.
"""
