"""Language models: provider chains, the response cache, usage and cost, `warroom llm`."""
