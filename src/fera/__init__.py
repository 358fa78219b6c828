"""fera: the Facial Emotion Recognition Assistant.

Train and evaluate facial-expression models on FER-style data (``fera train``, ``fera evaluate``)
and describe the faces in front of a blind or low-vision person. Nothing runs on import.
"""
__version__ = "0.1.0"
