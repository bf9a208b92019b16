"""The review page (``kedro review``): upload slices or DICOMs in a browser and see the
registered model's answer, its review flag and its Grad-CAM (see docs/review_page.md).
"""
