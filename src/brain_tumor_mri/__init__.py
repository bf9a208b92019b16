"""Brain tumour classification in MRI slices with a ResNet-50, as a Kedro project."""

__version__ = "0.1.0"
