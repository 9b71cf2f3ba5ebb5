"""Engine-independent pieces of local inference: prompt building and KV-config mapping."""
