package synth

import "math"

// The closed forms below compute, in float64, what each model of the pack
// returns for ONE batch item. Tensors are flat row-major float32 slices:
// images [3,H,W], latents [4,h,w], UNet samples [C,h,w], hidden states
// [L,D], image tokens [K,D].

// AlphasCumprod is ᾱ_t for t = 0..n-1 of the SD 1.5 "scaled_linear"
// schedule: β = linspace(√βstart, √βend, n)², ᾱ = cumprod(1 − β), in float64.
func AlphasCumprod(n int, betaStart, betaEnd float64) []float64 {
	out := make([]float64, n)
	s0, s1 := math.Sqrt(betaStart), math.Sqrt(betaEnd)
	prod := 1.0
	for i := range n {
		s := s0
		if n > 1 {
			s = s0 + float64(i)*(s1-s0)/float64(n-1)
		}
		prod *= 1 - s*s
		out[i] = prod
	}
	return out
}

// AlphaBar is ᾱ at integer timestep t (0..NumTrainTimesteps-1).
func (a *Analytic) AlphaBar(t int) float64 {
	return AlphasCumprod(a.NumTrainTimesteps, a.BetaStart, a.BetaEnd)[t]
}

// EncodeMean is the VAE latent mean [4,h,w] of an RGB image [3,H,W] in
// [-1,1]: Menc times the f×f block averages (f = LatentFactor).
func (a *Analytic) EncodeMean(chw []float32) []float32 {
	avg := a.blockAverage(chw)
	n := a.LatentSize()
	out := make([]float32, 4*n*n)
	for k := range 4 {
		for p := range n * n {
			var s float64
			for c := range 3 {
				s += a.Menc[k][c] * avg[c*n*n+p]
			}
			out[k*n*n+p] = float32(s)
		}
	}
	return out
}

// EncodeParameters is the vae_encoder's latent_parameters [8,h,w]: the mean,
// then LogVar.
func (a *Analytic) EncodeParameters(chw []float32) []float32 {
	m := a.EncodeMean(chw)
	out := append(m, make([]float32, len(m))...)
	for i := len(m); i < len(out); i++ {
		out[i] = float32(a.LogVar)
	}
	return out
}

func (a *Analytic) blockAverage(chw []float32) []float64 {
	H, n, f := a.Resolution, a.LatentSize(), a.LatentFactor
	avg := make([]float64, 3*n*n)
	for c := range 3 {
		for y := range H {
			for x := range H {
				avg[c*n*n+(y/f)*n+x/f] += float64(chw[(c*H+y)*H+x])
			}
		}
	}
	for i := range avg {
		avg[i] /= float64(f * f)
	}
	return avg
}

// Decode is the vae_decoder's RGB image [3,H,W] for an (unscaled) latent
// [4,h,w]: every pixel of block (i,j) is Mdec · latent[:,i,j]. So
// Decode(EncodeMean(x)) is the f×f block average of x.
func (a *Analytic) Decode(latent []float32) []float32 {
	H, n, f := a.Resolution, a.LatentSize(), a.LatentFactor
	out := make([]float32, 3*H*H)
	for c := range 3 {
		for y := range H {
			for x := range H {
				p := (y/f)*n + x/f
				var s float64
				for k := range 4 {
					s += a.Mdec[c][k] * float64(latent[k*n*n+p])
				}
				out[(c*H+y)*H+x] = float32(s)
			}
		}
	}
	return out
}

// ImageEmbeds is the image_encoder's output [Dc] for CLIP pixels [3,224,224].
func (a *Analytic) ImageEmbeds(clipPixels []float32) []float32 {
	var mean [3]float64
	for c := range 3 {
		for _, v := range clipPixels[c*ClipSize*ClipSize : (c+1)*ClipSize*ClipSize] {
			mean[c] += float64(v)
		}
		mean[c] /= ClipSize * ClipSize
	}
	out := make([]float32, a.Dc)
	for j := range a.Dc {
		var s float64
		for c := range 3 {
			s += mean[c] * a.P[c][j]
		}
		out[j] = float32(s)
	}
	return out
}

// ImageTokens is the image_projector's output [K,D] for c_s [4,h,w] and
// image embeddings [Dc].
func (a *Analytic) ImageTokens(cs, embeds []float32) []float32 {
	n := a.LatentSize()
	out := make([]float32, a.K*a.D)
	var mean [4]float64
	for c := range 4 {
		for _, v := range cs[c*n*n : (c+1)*n*n] {
			mean[c] += float64(v)
		}
		mean[c] /= float64(n * n)
	}
	for i := range out {
		var s float64
		for c := range 4 {
			s += mean[c] * a.Q1[c][i]
		}
		for j := range a.Dc {
			s += float64(embeds[j]) * a.Q2[j][i]
		}
		out[i] = float32(s)
	}
	return out
}

// TextEncode is the text_encoder's last_hidden_state [77,D] for 77 ids.
func (a *Analytic) TextEncode(ids []int64) []float32 {
	out := make([]float32, len(ids)*a.D)
	for t, id := range ids {
		for j, w := range a.WordIDs {
			if id == w {
				out[t*a.D+j] = 1
			}
		}
	}
	return out
}

// TextEffect is T(p) = Wt^T · Σ over the 77 tokens of E[id].
func (a *Analytic) TextEffect(ids []int64) [4]float64 {
	var t [4]float64
	for _, id := range ids {
		for j, w := range a.WordIDs {
			if id == w {
				for c := range 4 {
					t[c] += a.Tint[j][c]
				}
			}
		}
	}
	return t
}

// NullIDs are the ids of the empty prompt: start token, then end tokens.
func (a *Analytic) NullIDs() []int64 {
	ids := make([]int64, a.TextLen)
	ids[0] = 49406
	for i := 1; i < len(ids); i++ {
		ids[i] = 49407
	}
	return ids
}

// NullSpatial is the unconditional c_s: for mcdm the c_s of an all-black
// image (EncodeMean of all −1 times SpatialLatentScale), otherwise zeros.
func (a *Analytic) NullSpatial() []float32 {
	n := a.LatentSize()
	out := make([]float32, 4*n*n)
	if a.Kind != KindMCDM {
		return out
	}
	black := make([]float32, 3*a.Resolution*a.Resolution)
	for i := range black {
		black[i] = -1
	}
	for i, v := range a.EncodeMean(black) {
		out[i] = float32(float64(v) * a.SpatialLatentScale)
	}
	return out
}

// NullTokens are K zero image tokens.
func (a *Analytic) NullTokens() []float32 { return make([]float32, a.K*a.D) }

// clean is X = k·c_s + A + R⊙T·g(z_t) (mcdm; no A for ip2p; SDMean
// instead of k·c_s + A for sd), where tokSum is Σ over K of the image tokens
// and textSum Σ over the 77 text tokens of the hidden states.
func (a *Analytic) clean(zt, cs []float32, tokSum []float64, textSum []float64) []float32 {
	n := a.LatentSize()
	return a.cleanHW(zt, cs, tokSum, textSum, n, n)
}

// cleanHW is clean for an h×w latent (AnySize packs take any size).
func (a *Analytic) cleanHW(zt, cs []float32, tokSum []float64, textSum []float64, h, w int) []float32 {
	var T, A [4]float64
	for c := range 4 {
		for d := range a.D {
			if d < len(a.Tint) {
				T[c] += textSum[d] * a.Tint[d][c]
			}
			if a.Kind == KindMCDM {
				A[c] += tokSum[d] / float64(a.K) * a.Wa[d][c]
			}
		}
	}
	k := a.VAEScalingFactor / a.SpatialLatentScale
	out := make([]float32, 4*h*w)
	for c := range 4 {
		for p := range h * w {
			i := c*h*w + p
			var x float64
			if a.Kind == KindSD {
				x = a.SDMean[c]
			} else {
				x = k*float64(cs[i]) + A[c]
			}
			if a.InRegion(p/w, p%w) {
				g := 1.0
				if a.Nonlinear && zt != nil {
					g += a.NonlinearGain * math.Tanh(float64(zt[i]))
				}
				x += T[c] * g
			}
			out[i] = float32(x)
		}
	}
	return out
}

func (a *Analytic) sums(tokens []float32, ids []int64) (tokSum, textSum []float64) {
	tokSum = make([]float64, a.D)
	for k := 0; k < a.K && tokens != nil; k++ {
		for d := range a.D {
			tokSum[d] += float64(tokens[k*a.D+d])
		}
	}
	textSum = make([]float64, a.D)
	for _, id := range ids {
		for j, w := range a.WordIDs {
			if id == w {
				textSum[j]++
			}
		}
	}
	return tokSum, textSum
}

// CleanLatent is the UNet's clean-latent oracle X [4,h,w] for one branch:
// spatial condition cs [4,h,w] (ignored for sd), image tokens [K,D] (mcdm
// only; nil means zeros) and prompt ids. With Nonlinear it is the value at
// z_t = 0; see CleanLatentAt.
func (a *Analytic) CleanLatent(cs, tokens []float32, ids []int64) []float32 {
	return a.CleanLatentAt(nil, cs, tokens, ids)
}

// CleanLatentAt is CleanLatent at noisy latent zt [4,h,w] (which matters only
// with Nonlinear; nil means zeros).
func (a *Analytic) CleanLatentAt(zt, cs, tokens []float32, ids []int64) []float32 {
	tokSum, textSum := a.sums(tokens, ids)
	return a.clean(zt, cs, tokSum, textSum)
}

// Guided is the clean latent X̃ of the contract's guided noise ε̃ (weights
// 1−s1, s1−s2, s2−s3, s3 on the four branches, summing to 1):
// X(∅,∅,∅) + s1[X(c_im,∅,∅) − X(∅,∅,∅)] + s2[X(c_im,c_s,∅) − X(c_im,∅,∅)]
// + s3[X(c_im,c_s,p) − X(c_im,c_s,∅)], with the null values NullSpatial,
// NullTokens and NullIDs.
func (a *Analytic) Guided(s1, s2, s3 float64, cs, tokens []float32, ids []int64) []float32 {
	return a.GuidedAt(nil, s1, s2, s3, cs, tokens, ids)
}

// GuidedAt is Guided at noisy latent zt (nil: zeros; matters with Nonlinear).
func (a *Analytic) GuidedAt(zt []float32, s1, s2, s3 float64, cs, tokens []float32, ids []int64) []float32 {
	ns, nt, ni := a.NullSpatial(), a.NullTokens(), a.NullIDs()
	x0 := a.CleanLatentAt(zt, ns, nt, ni)
	x1 := a.CleanLatentAt(zt, ns, tokens, ni)
	x2 := a.CleanLatentAt(zt, cs, tokens, ni)
	x3 := a.CleanLatentAt(zt, cs, tokens, ids)
	out := make([]float32, len(x0))
	for i := range out {
		v0, v1, v2, v3 := float64(x0[i]), float64(x1[i]), float64(x2[i]), float64(x3[i])
		out[i] = float32(v0 + s1*(v1-v0) + s2*(v2-v1) + s3*(v3-v2))
	}
	return out
}

// epsFrom is ε = (z_t − √ᾱ_t·X)/√(1−ᾱ_t) at timestep round(t) (half to even,
// as ONNX Round does).
func (a *Analytic) epsFrom(zt, x []float32, t float64) []float32 {
	ti := int(math.RoundToEven(t))
	ab := a.AlphaBar(ti)
	sa, inv := math.Sqrt(ab), 1/math.Sqrt(1-ab)
	out := make([]float32, len(x))
	for i := range out {
		out[i] = float32((float64(zt[i]) - sa*float64(x[i])) * inv)
		if ti < a.NaNBelowTimestep {
			out[i] = float32(math.NaN())
		}
	}
	return out
}

// Eps is the UNet's ε [4,h,w] for noisy latent zt, condition cs, image
// tokens (nil: zeros), prompt ids and timestep t.
func (a *Analytic) Eps(zt, cs, tokens []float32, ids []int64, t float64) []float32 {
	return a.epsFrom(zt, a.CleanLatentAt(zt, cs, tokens, ids), t)
}

// UNet is the unet's out_sample [4,h,w] for raw inputs: sample [C,h,w],
// encoder_hidden_states [L,D] and timestep t.
func (a *Analytic) UNet(sample, ehs []float32, t float64) []float32 {
	n := a.LatentSize()
	return a.UNetAt(sample, ehs, t, n, n)
}

// UNetAt is UNet for a sample of height h and width w [C,h,w], which only
// AnySize packs accept unless h = w = LatentSize.
func (a *Analytic) UNetAt(sample, ehs []float32, t float64, h, w int) []float32 {
	zt := sample[:4*h*w]
	var cs []float32
	if a.Kind != KindSD {
		cs = sample[4*h*w : 8*h*w]
	}
	textSum := make([]float64, a.D)
	for tok := range a.TextLen {
		for d := range a.D {
			textSum[d] += float64(ehs[tok*a.D+d])
		}
	}
	tokSum := make([]float64, a.D)
	if a.Kind == KindMCDM {
		for tok := a.TextLen; tok < a.TextLen+a.K; tok++ {
			for d := range a.D {
				tokSum[d] += float64(ehs[tok*a.D+d])
			}
		}
	}
	return a.epsFrom(zt, a.cleanHW(zt, cs, tokSum, textSum, h, w), t)
}
