"""How this project's components write their gzip TFRecord files of examples.

zlib's fastest level: at a million rows it compressed 2.5 times as fast as TensorFlow's default
(level 6), for files about a fifth larger. They stay ordinary gzip, which every reader here and
TFX's own read as before (`compression_type="GZIP"`), and compression was a tenth of Transform's
time and of ExampleGen's writing.
"""

from __future__ import annotations

import tensorflow as tf

GZIP_RECORDS = tf.io.TFRecordOptions(compression_type="GZIP", compression_level=1)
