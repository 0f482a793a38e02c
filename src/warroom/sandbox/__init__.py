"""The simulated cluster and shop the demo runs against, beside the product."""
