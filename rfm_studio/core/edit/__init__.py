"""The stages of one edit, in the order ``core.editing.run_edit`` runs them.

    inputs.py   0 check_instruction   the instruction, before a reference or dictionary edit takes over
                1 check_inputs        the request's audio, options and region, one sentence when bad
    plan.py     2 plan_span           the 16 kHz span the model hears and its windows
    window.py   3 encode_conditioning the instruction (and audio prompts) as the network's context;
                  encode_span_mel     the span's own mel (the edit's mel_in)
                4 encode_window       one window: padded, normalised, mel, latent, region mask
                5 denoise_window      the sampler's steps over it, as StepEvents; its edited mel
    assemble.py 6 merge_windows       the windows' mels crossfaded into the span's
                7 apply_strength      the model's change of the mel scaled
                8 render_span         the edited mel back to audio (mask, or decode_overlap_add)
                9 splice_region       the span put back into the clip, only the region changed
               10 merge_attention     the windows' attention maps over the whole clip
"""
