"""The prompt files of the LLM understander, installed as the package ``lumen_bot.prompts``."""
