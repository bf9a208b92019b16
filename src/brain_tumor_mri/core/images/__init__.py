"""Reading image files of any common colour mode, and DICOM files, as 8-bit RGB arrays,
one module per job: ``limits`` (the largest image, the allowed formats, ``ImageReadError``),
``decoding`` (header and pixels), ``colour`` (any mode to 8-bit RGB), ``cropping`` (to the
brain), ``intensity`` (normalisation), ``loading`` (``load_rgb``, the one loader),
``batches`` (many files at once), ``hashing`` (perceptual hashes, preprocessing only) and
``encoding`` (PNG).

Nothing is imported here, so that a module imports only what its job needs: the served
model never loads ``imagehash``.
"""
