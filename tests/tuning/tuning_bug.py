"""A backend with a bug (not a user error): it raises RuntimeError for featdesc prompts."""

from synllm_mlops.generation._fake import FakeBackend


class BuggyBackend(FakeBackend):
    def _generate_batch(self, prompt, batch_size, params, regex, max_new_tokens, seed, guide=None):
        if prompt.strategy == "featdesc":
            raise RuntimeError("a bug on purpose")
        return super()._generate_batch(prompt, batch_size, params, regex, max_new_tokens, seed, guide)
