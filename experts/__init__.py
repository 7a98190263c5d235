"""Shipped SVF experts, one folder per base model (``<model-slug>/``); installed with the
package as ``t2eval.experts`` so that a regular (non-editable) install finds them."""
