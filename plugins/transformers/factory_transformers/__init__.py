"""koalpaca-factory-transformers: the ``transformers`` teacher plugin (a local causal LM, or a GGUF file).

Registered through the ``factory`` entry-point group. Importing this package
imports neither torch nor transformers (that happens when a teacher is
built), so listing plugins and validating recipes stay fast.
"""

from factory.hookspecs import hookimpl

from factory_transformers.options import BUNDLED_MODELS, TransformersTeacherOptions
from factory_transformers.teacher import TransformersTeacher

__all__ = ["BUNDLED_MODELS", "TransformersTeacher", "TransformersTeacherOptions", "register_teachers"]


@hookimpl
def register_teachers(register):
    register("transformers", TransformersTeacher)
