"""factory-openai: the ``openai`` teacher plugin (OpenAI and OpenAI-compatible servers).

Registered through the ``factory`` entry-point group. Importing this package
does not import ``openai`` (that happens on the first request), so listing
plugins stays fast.
"""

from factory.hookspecs import hookimpl

from factory_openai.teacher import OpenAITeacher, OpenAITeacherOptions

__all__ = ["OpenAITeacher", "OpenAITeacherOptions", "register_teachers"]


@hookimpl
def register_teachers(register):
    register("openai", OpenAITeacher)
