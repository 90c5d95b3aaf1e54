"""NEST references for the standard library's NEST models (see README.md)."""
import nest, numpy as np, sys, os
out = sys.argv[1]
os.makedirs(out, exist_ok=True)

def run(model, params, inputs, I_e, T, res=0.01):
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": res})
    n = nest.Create(model, params=dict(params, I_e=I_e))
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
    sr = nest.Create("spike_recorder")
    for times, w in inputs:
        g = nest.Create("spike_generator", params={"spike_times": times})
        nest.Connect(g, n, syn_spec={"weight": w, "delay": res})
    nest.Connect(mm, n)
    nest.Connect(n, sr)
    nest.Simulate(T)
    ev = mm.get("events")
    return ev["times"], ev["V_m"], sr.get("events")["times"]

def write(name, t, v, spikes, header):
    np.savetxt(f"{out}/{name}_V.csv", np.column_stack([t, v]), delimiter=",", header="t_ms,V_mV", comments="", fmt="%.10g")
    np.savetxt(f"{out}/{name}_spikes.csv", np.asarray(spikes), header="t_ms", comments="", fmt="%.10g")
    print(name, len(spikes), "spikes", header)

# Subthreshold synaptic input through both ports: excitatory (+) and
# inhibitory (-) weights, arriving at 10, 30, 32 ms (exc) and 50, 51 ms (inh)
# (generator times + the 0.01 ms delay).
syn_in = [([9.99, 29.99, 31.99], 300.0), ([49.99, 50.99], -400.0)]
for model, name in [("iaf_psc_exp", "iaf_psc_exp"), ("iaf_psc_alpha", "iaf_psc_alpha")]:
    # defaults (printed for the README)
    d = nest.GetDefaults(model)
    keys = ["C_m", "tau_m", "E_L", "V_th", "V_reset", "t_ref", "tau_syn_ex", "tau_syn_in", "I_e", "V_m"]
    print(model, {k: d[k] for k in keys})
    t, v, s = run(model, {"tau_syn_in": 5.0}, syn_in, 0.0, 100.0)
    write(f"{name}_synaptic", t, v, s, "tau_syn_in = 5 ms, exc + inh input")
    t, v, s = run(model, {}, [], 400.0, 200.0)
    write(f"{name}_I400", t, v, s, "I_e = 400 pA")
d = nest.GetDefaults("aeif_psc_exp")
keys = ["C_m", "g_L", "E_L", "Delta_T", "V_th", "V_peak", "V_reset", "tau_w", "a", "b", "t_ref", "V_m", "w"]
print("aeif_psc_exp", {k: d[k] for k in keys})
t, v, s = run("aeif_psc_exp", {"gsl_error_tol": 1e-9}, [], 700.0, 500.0)
write("aeif_psc_exp_I700", t, v, s, "I_e = 700 pA")

# hh_cond_exp_traub at its defaults (its gates start where NEST puts them,
# printed here), I_e = 500 pA, 200 ms. NEST stamps a spike at the peak
# (V above V_T + 30 mV and falling), so spike *intervals* are compared.
nest.ResetKernel()
nest.SetKernelStatus({"resolution": 0.01})
d = nest.GetDefaults("hh_cond_exp_traub")
print("hh_cond_exp_traub", {k: d[k] for k in ["g_Na", "g_K", "g_L", "C_m", "E_Na", "E_K", "E_L", "V_T", "V_m", "Act_m", "Inact_h", "Act_n"]})
n = nest.Create("hh_cond_exp_traub", params={"I_e": 500.0})
sr = nest.Create("spike_recorder")
nest.Connect(n, sr)
nest.Simulate(200.0)
np.savetxt(f"{out}/hh_cond_exp_traub_I500_spikes.csv", sr.get("events")["times"], header="t_ms", comments="", fmt="%.10g")
