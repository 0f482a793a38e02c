"""Language-model backends of the Diagnostician, Solver, Reviewer and Critic (pydantic-ai).

Each wraps the agent's rule backend: the rule answer is computed first and stands whenever the
model is absent, late, malformed or wrong. Importing this package costs nothing; pydantic-ai
is imported only when a model is first asked.
"""
