// Package synth writes "analytic" model packs: real ONNX files (text_encoder,
// unet, vae_encoder, vae_decoder and, for mcdm, image_encoder and
// image_projector) that follow the model contract (shared/model-contract.md)
// but compute small closed-form functions, so every engine test can compare
// against exact answers. Write generates a pack from Go (no Python); Load
// reads its parameters back; the methods of Analytic (closed.go) compute in
// float64 what each model returns.
//
// # Sizes and files
//
// D = 16 (text hidden size), K = 4 image tokens, Dc = 8 (image embedding),
// h = w = resolution/f with f = Options.LatentFactor (the manifest's
// latent_factor, default 8). Opset 17, IR version 8, float32 weights. Batch
// dimensions are dim_param "batch" (or dim_value 1 with FixedBatch). The
// manifest likeness.json has format 1, the cartoon pack's prompts, subjects,
// source "neutral expression", the directions angry, shocked, laughing,
// crying, lambda 0.35, sizes and SHA-256 of every file, and the parameters
// under the extra key "analytic" (the engine ignores unknown keys). The
// tokenizer is the embedded CLIP vocabulary; the scheduler config is SD 1.5's
// PNDMScheduler (1000 steps, scaled_linear 0.00085..0.012, steps_offset 1).
//
// # The maths
//
// Text encoder: last_hidden_state = E[input_ids] with E [49408, D] zero but
// for five rows: the tokens "angry</w>", "shocked</w>", "laughing</w>",
// "crying</w>" and "neutral</w>" (ids 9054, 15787, 8301, 6828, 17011) embed
// to the unit vectors e_0..e_4. The start, end and padding tokens and every
// other word embed to zero, so the empty prompt has no effect.
//
// Text effect T(p) = Wt^T · Σ over the 77 tokens of E[id], Wt [D,4] with rows
// 0.1 times (angry reddens, shocked greens, laughing yellows, crying blues)
//
//	0 angry    ( 1.0, -0.5,  0.3,  0.2)
//	1 shocked  (-0.5,  1.0,  0.2, -0.3)
//	2 laughing ( 0.3,  0.4, -1.0,  0.5)
//	3 crying   (-0.2, -0.6,  0.5,  1.0)
//	4 neutral  ( 0.2,  0.2, -0.2,  0.1)
//
// and zero rows 5..15. A word that appears twice counts twice.
//
// Region R: latent rows [3h/16, 9h/16) and columns [5w/16, 11w/16) (integer
// division; the face of a centred head-and-shoulders portrait), Analytic.Region and
// Analytic.Mask. At 512: rows 12..35, columns 20..43; at 64: rows 1..3,
// columns 2..4. With AnySize the UNet's sample and out_sample declare height
// and width dynamic and R is computed from the input's size: cell (r, c) is in
// R when (r mod h, c mod h) is, so a double-width latent [4,h,2h] has the
// region in each half (the paired-data generator's case); Analytic.InRegion
// and Analytic.UNetAt give it. On h×h inputs nothing changes.
//
// VAE encoder: a Conv with kernel f and stride f whose weight is
// Menc[k][c]/f² at all f² positions, so the latent mean is Menc times the f×f
// block average of the RGB image, with
//
//	Menc = (5,0,0), (0,5,0), (0,0,5), (2.5,2.5,2.5)
//
// (z0 = 0.18215 · mean lies within ±0.92 on channels 0-2 and ±1.37 on
// channel 3). With LatentParameters the output has 8 channels, the last four
// the constant log-variance −2 (from the bias). With SamplingVAE the output
// latent_sample is latent_dist.sample() = mean + e^(−1)·ε, ε from a
// RandomNormalLike (or a RandomUniformLike on [−1,1]) node, as older Optimum
// exports return it.
//
// VAE decoder: a ConvTranspose with kernel f and stride f whose weight is
// Mdec[c][k] at all positions, Mdec = the pseudo-inverse of Menc, which is
// exactly (1/35)·[(6,−1,−1,2), (−1,6,−1,2), (−1,−1,6,2)]. So decoding an
// encoded image gives its f×f block average, and the engine's "divide by
// vae_scaling_factor, then decode" of z0 reproduces the block-averaged photo.
//
// Image encoder (mcdm): image_embeds = (mean of each CLIP-normalised channel
// over 224x224) · P, P [3,8] with rows
//
//	(1, 0, 0, 0.5, 0,   0,   0.25, -0.25)
//	(0, 1, 0, 0,   0.5, 0,   0.25,  0.25)
//	(0, 0, 1, 0,   0,   0.5, 0.25,  0)
//
// Image projector (mcdm): image_tokens [K,D] = Reshape(mean_hw(latent) · Q1 +
// image_embeds · Q2), with the token weights w = (0.5, 1, 1.5, 1) (mean 1):
// Q1[c][k·D + 8 + c] = w_k (latent channel c into token dim 8+c), Q2[j][k·D +
// 12 + j mod 4] = w_k for j < 4 and −0.5·w_k for j >= 4; all other entries 0.
//
// UNet: sample [B,C,h,w] (C = 8 for mcdm and ip2p: z_t then c_s; C = 4 for sd),
// timestep, encoder_hidden_states [B,L,D] (L = 77 + K for mcdm: text then image
// tokens; 77 otherwise). It predicts the noise of a clean-latent oracle
//
//	X = k·c_s + A + R⊙T          (mcdm; ip2p has no A; sd: X = m + R⊙T)
//	k = vae_scaling_factor / spatial_latent_scale   (0.18215 by default)
//	A = Wa^T · mean over the K image tokens, Wa[8+c][c] = 0.01, Wa[12+c][c] = 0.02 (small: a subtle global tint)
//	T = Wt^T · Σ over the 77 text rows of encoder_hidden_states
//	m = (0.3, −0.2, 0.1, 0.0)
//
// broadcast over h,w (A, m) or into the region (R⊙T). So X's spatial part is
// k·c_s = 0.18215·(VAE mean) = z0 exactly when c_s is the photo's condition.
// With Nonlinear the text term is R⊙T⊙(1 + 0.5·tanh(z_t)), channel by channel:
// the edit then depends on the noise and differs between channels, which
// tells the engine's 2-evaluation mask apart from a wrong shortcut when it is
// compared with the literal 8-evaluation computation.
//
// The output is ε = (z_t − √ᾱ_t·X) / √(1 − ᾱ_t), ᾱ from the SD 1.5 schedule
// (β = linspace(√0.00085, √0.012, 1000)², ᾱ = cumprod(1 − β) in float64),
// looked up in two constant float32 tables of 1000 entries (√ᾱ and
// 1/√(1−ᾱ)) with Gather at index int64(timestep); float timesteps are
// rounded half to even first (ONNX Round), so they should be integers. A
// scalar timestep applies to the whole batch. With NaNBelowTimestep = T0
// the output also has 0·√(t − T0) added: NaN below T0, unchanged above.
//
// # Why the sampler ends at a known latent
//
// Every ε the UNet returns is exactly the noise that takes the clean latent X
// of its branch to z_t, so the sampler's x0-prediction from it is X. The
// contract's guidance ε̃ = ε(∅,∅,∅) + s1[ε(c_im,∅,∅) − ε(∅,∅,∅)] + s2[...] +
// s3[...] weighs the four branches by 1−s1, s1−s2, s2−s3 and s3, which sum
// to 1, and all branches share z_t; since ε is affine in X with the z_t term
// weighted 1/√(1−ᾱ), ε̃ is the ε of X̃ = the same weighted combination of the
// branch latents (Analytic.Guided). Without Nonlinear, X̃ does not depend on
// z_t or t, so every x0-prediction along the trajectory is X̃, and a
// deterministic sampler whose last step goes to σ = 0 (UniPC with final sigma
// zero) ends exactly at X̃ (up to float32 rounding), whatever the seed. The
// same holds for the mask-guided ε̂, whose clean latent is X̃(p_a) +
// M⊙(X̃(p_b) − X̃(p_a)). Text enters X only through R⊙T, so the edit
// X̃(p_b) − X̃(p_a) = s3·R⊙(T(p_b) − T(p_a)) is confined to the region R,
// which is therefore the mask the engine must find. With Nonlinear, X̃
// depends on z_t, and Analytic.GuidedAt gives it for a given z_t.
//
// Null values for the closed forms: spatial = the c_s of an all-black image
// for mcdm (EncodeMean of all −1, times spatial_latent_scale) and zeros for
// ip2p; image tokens = zeros; text = the empty prompt (start token, then end
// tokens), whose T is 0.
package synth
