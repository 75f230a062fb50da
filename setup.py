"""The one compiled part of minsheng, built when a C compiler is at hand (optional).

``minsheng.batch._money`` writes the batch outputs' money as two-decimal texts in one loop
(``src/minsheng/batch/_money.c``). Without a compiler the install still succeeds and
:mod:`minsheng.batch.money_text` formats the same texts with Arrow and numpy, more slowly.
Everything else is in ``pyproject.toml``.
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("minsheng.batch._money", ["src/minsheng/batch/_money.c"],
                             extra_compile_args=["-O2"], optional=True)])
