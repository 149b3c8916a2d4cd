"""The LLM adapter: an OpenAI-compatible model asked through instructor (the ``LlmExtractor`` port), and
the prompt files it is given."""
