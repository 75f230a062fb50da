"""minsheng 民生: rules as code for Chinese livelihood policy, with medical security at its heart."""

__version__ = "0.1.0"
