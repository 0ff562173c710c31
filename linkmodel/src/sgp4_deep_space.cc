// The deep-space part of SGP4 (SDP4): lunar-solar perturbations and the geopotential resonance of
// 12-hour and 24-hour orbits. Vallado's dscom, dsinit, dspace and dpper, in his order of
// operations (floating-point results depend on it; tcppver.out is matched to 1e-8 km).
#include "sgp4_deep_space.h"

#include <cmath>

namespace crosslink::linkmodel {

double GreenwichSiderealAngleRad(double jd_ut1) {
  constexpr double kDeg2Rad = sgp4_internal::kPi / 180.0;
  const double tut1 = (jd_ut1 - 2451545.0) / 36525.0;
  double temp = -6.2e-6 * tut1 * tut1 * tut1 + 0.093104 * tut1 * tut1 +
                (876600.0 * 3600 + 8640184.812866) * tut1 + 67310.54841;  // seconds
  temp = std::fmod(temp * kDeg2Rad / 240.0, sgp4_internal::kTwoPi);       // 360/86400 = 1/240
  if (temp < 0.0) temp += sgp4_internal::kTwoPi;
  return temp;
}

namespace sgp4_internal {
namespace {

// Lunar and solar constants shared by dscom, dsinit and dpper.
constexpr double kZes = 0.01675;
constexpr double kZel = 0.05490;
constexpr double kZns = 1.19459e-5;
constexpr double kZnl = 1.5835218e-4;
// Earth rotation rate, rad/min (7.29211514668855e-5 rad/s).
constexpr double kRptim = 4.37526908801129966e-3;

// AFSPC's sidereal angle at epoch: a 1970-based polynomial, kept for opsmode 'a'.
double AfspcGsto(double epoch) {
  const double ts70 = epoch - 7305.0;
  const double ds70 = std::floor(ts70 + 1.0e-8);
  const double tfrac = ts70 - ds70;
  const double c1 = 1.72027916940703639e-2;
  const double thgr70 = 1.7321343856509374;
  const double fk5r = 5.07551419432269442e-15;
  const double c1p2p = c1 + kTwoPi;
  double gsto = std::fmod(thgr70 + c1 * ds70 + c1p2p * tfrac + ts70 * ts70 * fk5r, kTwoPi);
  if (gsto < 0.0) gsto += kTwoPi;
  return gsto;
}

// Outputs of dscom that dsinit reads (the rest go straight into DeepSpace).
struct Dscom {
  double sinim, cosim, emsq;
  double s1, s2, s3, s4, s5, ss1, ss2, ss3, ss4, ss5;
  double sz1, sz3, sz11, sz13, sz21, sz23, sz31, sz33;
  double z1, z3, z11, z13, z21, z23, z31, z33;
};

// dscom: lunar and solar geometry at epoch and the periodic coefficients.
Dscom ComputeDscom(const DeepSpaceInput& in, DeepSpace& ds) {
  const double c1ss = 2.9864797e-6;
  const double c1l = 4.7968065e-7;
  const double zsinis = 0.39785416;
  const double zcosis = 0.91744867;
  const double zcosgs = 0.1945905;
  const double zsings = -0.98088458;
  const double tc = 0.0;

  Dscom o{};
  const double nm = in.no_unkozai;
  const double em = in.ecco;
  const double snodm = std::sin(in.nodeo);
  const double cnodm = std::cos(in.nodeo);
  const double sinomm = std::sin(in.argpo);
  const double cosomm = std::cos(in.argpo);
  o.sinim = std::sin(in.inclo);
  o.cosim = std::cos(in.inclo);
  o.emsq = em * em;
  const double emsq = o.emsq;
  const double betasq = 1.0 - emsq;
  const double rtemsq = std::sqrt(betasq);

  const double day = in.epoch_days_since_1950 + 18261.5 + tc / 1440.0;
  const double xnodce = std::fmod(4.5236020 - 9.2422029e-4 * day, kTwoPi);
  const double stem = std::sin(xnodce);
  const double ctem = std::cos(xnodce);
  const double zcosil = 0.91375164 - 0.03568096 * ctem;
  const double zsinil = std::sqrt(1.0 - zcosil * zcosil);
  const double zsinhl = 0.089683511 * stem / zsinil;
  const double zcoshl = std::sqrt(1.0 - zsinhl * zsinhl);
  const double gam = 5.8351514 + 0.0019443680 * day;
  double zx = 0.39785416 * stem / zsinil;
  const double zy = zcoshl * ctem + 0.91744867 * zsinhl * stem;
  zx = std::atan2(zx, zy);
  zx = gam + zx - xnodce;
  const double zcosgl = std::cos(zx);
  const double zsingl = std::sin(zx);

  // First pass: the Sun; second pass: the Moon.
  double zcosg = zcosgs, zsing = zsings, zcosi = zcosis, zsini = zsinis;
  double zcosh = cnodm, zsinh = snodm, cc = c1ss;
  const double xnoi = 1.0 / nm;
  double s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  double z1 = 0, z2 = 0, z3 = 0, z11 = 0, z12 = 0, z13 = 0, z21 = 0, z22 = 0, z23 = 0;
  double z31 = 0, z32 = 0, z33 = 0;
  double ss1 = 0, ss2 = 0, ss3 = 0, ss4 = 0, ss5 = 0, ss6 = 0, ss7 = 0;
  double sz1 = 0, sz2 = 0, sz3 = 0, sz11 = 0, sz12 = 0, sz13 = 0, sz21 = 0, sz22 = 0, sz23 = 0;
  double sz31 = 0, sz32 = 0, sz33 = 0;
  for (int lsflg = 1; lsflg <= 2; ++lsflg) {
    const double a1 = zcosg * zcosh + zsing * zcosi * zsinh;
    const double a3 = -zsing * zcosh + zcosg * zcosi * zsinh;
    const double a7 = -zcosg * zsinh + zsing * zcosi * zcosh;
    const double a8 = zsing * zsini;
    const double a9 = zsing * zsinh + zcosg * zcosi * zcosh;
    const double a10 = zcosg * zsini;
    const double a2 = o.cosim * a7 + o.sinim * a8;
    const double a4 = o.cosim * a9 + o.sinim * a10;
    const double a5 = -o.sinim * a7 + o.cosim * a8;
    const double a6 = -o.sinim * a9 + o.cosim * a10;

    const double x1 = a1 * cosomm + a2 * sinomm;
    const double x2 = a3 * cosomm + a4 * sinomm;
    const double x3 = -a1 * sinomm + a2 * cosomm;
    const double x4 = -a3 * sinomm + a4 * cosomm;
    const double x5 = a5 * sinomm;
    const double x6 = a6 * sinomm;
    const double x7 = a5 * cosomm;
    const double x8 = a6 * cosomm;

    z31 = 12.0 * x1 * x1 - 3.0 * x3 * x3;
    z32 = 24.0 * x1 * x2 - 6.0 * x3 * x4;
    z33 = 12.0 * x2 * x2 - 3.0 * x4 * x4;
    z1 = 3.0 * (a1 * a1 + a2 * a2) + z31 * emsq;
    z2 = 6.0 * (a1 * a3 + a2 * a4) + z32 * emsq;
    z3 = 3.0 * (a3 * a3 + a4 * a4) + z33 * emsq;
    z11 = -6.0 * a1 * a5 + emsq * (-24.0 * x1 * x7 - 6.0 * x3 * x5);
    z12 = -6.0 * (a1 * a6 + a3 * a5) +
          emsq * (-24.0 * (x2 * x7 + x1 * x8) - 6.0 * (x3 * x6 + x4 * x5));
    z13 = -6.0 * a3 * a6 + emsq * (-24.0 * x2 * x8 - 6.0 * x4 * x6);
    z21 = 6.0 * a2 * a5 + emsq * (24.0 * x1 * x5 - 6.0 * x3 * x7);
    z22 =
        6.0 * (a4 * a5 + a2 * a6) + emsq * (24.0 * (x2 * x5 + x1 * x6) - 6.0 * (x4 * x7 + x3 * x8));
    z23 = 6.0 * a4 * a6 + emsq * (24.0 * x2 * x6 - 6.0 * x4 * x8);
    z1 = z1 + z1 + betasq * z31;
    z2 = z2 + z2 + betasq * z32;
    z3 = z3 + z3 + betasq * z33;
    s3 = cc * xnoi;
    s2 = -0.5 * s3 / rtemsq;
    s4 = s3 * rtemsq;
    s1 = -15.0 * em * s4;
    s5 = x1 * x3 + x2 * x4;
    s6 = x2 * x3 + x1 * x4;
    s7 = x2 * x4 - x1 * x3;

    if (lsflg == 1) {
      ss1 = s1, ss2 = s2, ss3 = s3, ss4 = s4, ss5 = s5, ss6 = s6, ss7 = s7;
      sz1 = z1, sz2 = z2, sz3 = z3, sz11 = z11, sz12 = z12, sz13 = z13;
      sz21 = z21, sz22 = z22, sz23 = z23, sz31 = z31, sz32 = z32, sz33 = z33;
      zcosg = zcosgl;
      zsing = zsingl;
      zcosi = zcosil;
      zsini = zsinil;
      zcosh = zcoshl * cnodm + zsinhl * snodm;
      zsinh = snodm * zcoshl - cnodm * zsinhl;
      cc = c1l;
    }
  }

  ds.zmol = std::fmod(4.7199672 + 0.22997150 * day - gam, kTwoPi);
  ds.zmos = std::fmod(6.2565837 + 0.017201977 * day, kTwoPi);

  // Solar terms.
  ds.se2 = 2.0 * ss1 * ss6;
  ds.se3 = 2.0 * ss1 * ss7;
  ds.si2 = 2.0 * ss2 * sz12;
  ds.si3 = 2.0 * ss2 * (sz13 - sz11);
  ds.sl2 = -2.0 * ss3 * sz2;
  ds.sl3 = -2.0 * ss3 * (sz3 - sz1);
  ds.sl4 = -2.0 * ss3 * (-21.0 - 9.0 * emsq) * kZes;
  ds.sgh2 = 2.0 * ss4 * sz32;
  ds.sgh3 = 2.0 * ss4 * (sz33 - sz31);
  ds.sgh4 = -18.0 * ss4 * kZes;
  ds.sh2 = -2.0 * ss2 * sz22;
  ds.sh3 = -2.0 * ss2 * (sz23 - sz21);
  // Lunar terms.
  ds.ee2 = 2.0 * s1 * s6;
  ds.e3 = 2.0 * s1 * s7;
  ds.xi2 = 2.0 * s2 * z12;
  ds.xi3 = 2.0 * s2 * (z13 - z11);
  ds.xl2 = -2.0 * s3 * z2;
  ds.xl3 = -2.0 * s3 * (z3 - z1);
  ds.xl4 = -2.0 * s3 * (-21.0 - 9.0 * emsq) * kZel;
  ds.xgh2 = 2.0 * s4 * z32;
  ds.xgh3 = 2.0 * s4 * (z33 - z31);
  ds.xgh4 = -18.0 * s4 * kZel;
  ds.xh2 = -2.0 * s2 * z22;
  ds.xh3 = -2.0 * s2 * (z23 - z21);

  o.s1 = s1, o.s2 = s2, o.s3 = s3, o.s4 = s4, o.s5 = s5;
  o.ss1 = ss1, o.ss2 = ss2, o.ss3 = ss3, o.ss4 = ss4, o.ss5 = ss5;
  o.sz1 = sz1, o.sz3 = sz3, o.sz11 = sz11, o.sz13 = sz13;
  o.sz21 = sz21, o.sz23 = sz23, o.sz31 = sz31, o.sz33 = sz33;
  o.z1 = z1, o.z3 = z3, o.z11 = z11, o.z13 = z13;
  o.z21 = z21, o.z23 = z23, o.z31 = z31, o.z33 = z33;
  return o;
}

// dsinit for the 12-hour resonance (irez 2): the d-coefficients, from the epoch eccentricity.
void InitHalfDayResonance(const DeepSpaceInput& in, const Dscom& c, double nm, double aonv,
                          double theta, DeepSpace& ds) {
  const double cosim = c.cosim, sinim = c.sinim;
  const double cosisq = cosim * cosim;
  const double em = in.ecco;
  const double emsq = in.eccsq;
  const double eoc = em * emsq;
  const double g201 = -0.306 - (em - 0.64) * 0.440;
  double g211, g310, g322, g410, g422, g520, g521, g532, g533;
  if (em <= 0.65) {
    g211 = 3.616 - 13.2470 * em + 16.2900 * emsq;
    g310 = -19.302 + 117.3900 * em - 228.4190 * emsq + 156.5910 * eoc;
    g322 = -18.9068 + 109.7927 * em - 214.6334 * emsq + 146.5816 * eoc;
    g410 = -41.122 + 242.6940 * em - 471.0940 * emsq + 313.9530 * eoc;
    g422 = -146.407 + 841.8800 * em - 1629.014 * emsq + 1083.4350 * eoc;
    g520 = -532.114 + 3017.977 * em - 5740.032 * emsq + 3708.2760 * eoc;
  } else {
    g211 = -72.099 + 331.819 * em - 508.738 * emsq + 266.724 * eoc;
    g310 = -346.844 + 1582.851 * em - 2415.925 * emsq + 1246.113 * eoc;
    g322 = -342.585 + 1554.908 * em - 2366.899 * emsq + 1215.972 * eoc;
    g410 = -1052.797 + 4758.686 * em - 7193.992 * emsq + 3651.957 * eoc;
    g422 = -3581.690 + 16178.110 * em - 24462.770 * emsq + 12422.520 * eoc;
    if (em > 0.715) {
      g520 = -5149.66 + 29936.92 * em - 54087.36 * emsq + 31324.56 * eoc;
    } else {
      g520 = 1464.74 - 4664.75 * em + 3763.64 * emsq;
    }
  }
  if (em < 0.7) {
    g533 = -919.22770 + 4988.6100 * em - 9064.7700 * emsq + 5542.21 * eoc;
    g521 = -822.71072 + 4568.6173 * em - 8491.4146 * emsq + 5337.524 * eoc;
    g532 = -853.66600 + 4690.2500 * em - 8624.7700 * emsq + 5341.4 * eoc;
  } else {
    g533 = -37995.780 + 161616.52 * em - 229838.20 * emsq + 109377.94 * eoc;
    g521 = -51752.104 + 218913.95 * em - 309468.16 * emsq + 146349.42 * eoc;
    g532 = -40023.880 + 170470.89 * em - 242699.48 * emsq + 115605.82 * eoc;
  }
  const double sini2 = sinim * sinim;
  const double f220 = 0.75 * (1.0 + 2.0 * cosim + cosisq);
  const double f221 = 1.5 * sini2;
  const double f321 = 1.875 * sinim * (1.0 - 2.0 * cosim - 3.0 * cosisq);
  const double f322 = -1.875 * sinim * (1.0 + 2.0 * cosim - 3.0 * cosisq);
  const double f441 = 35.0 * sini2 * f220;
  const double f442 = 39.3750 * sini2 * sini2;
  const double f522 = 9.84375 * sinim *
                      (sini2 * (1.0 - 2.0 * cosim - 5.0 * cosisq) +
                       0.33333333 * (-2.0 + 4.0 * cosim + 6.0 * cosisq));
  const double f523 = sinim * (4.92187512 * sini2 * (-2.0 - 4.0 * cosim + 10.0 * cosisq) +
                               6.56250012 * (1.0 + 2.0 * cosim - 3.0 * cosisq));
  const double f542 =
      29.53125 * sinim * (2.0 - 8.0 * cosim + cosisq * (-12.0 + 8.0 * cosim + 10.0 * cosisq));
  const double f543 =
      29.53125 * sinim * (-2.0 - 8.0 * cosim + cosisq * (12.0 + 8.0 * cosim - 10.0 * cosisq));
  const double root22 = 1.7891679e-6;
  const double root32 = 3.7393792e-7;
  const double root44 = 7.3636953e-9;
  const double root52 = 1.1428639e-7;
  const double root54 = 2.1765803e-9;
  const double xno2 = nm * nm;
  const double ainv2 = aonv * aonv;
  double temp1 = 3.0 * xno2 * ainv2;
  double temp = temp1 * root22;
  ds.d2201 = temp * f220 * g201;
  ds.d2211 = temp * f221 * g211;
  temp1 = temp1 * aonv;
  temp = temp1 * root32;
  ds.d3210 = temp * f321 * g310;
  ds.d3222 = temp * f322 * g322;
  temp1 = temp1 * aonv;
  temp = 2.0 * temp1 * root44;
  ds.d4410 = temp * f441 * g410;
  ds.d4422 = temp * f442 * g422;
  temp1 = temp1 * aonv;
  temp = temp1 * root52;
  ds.d5220 = temp * f522 * g520;
  ds.d5232 = temp * f523 * g532;
  temp = 2.0 * temp1 * root54;
  ds.d5421 = temp * f542 * g521;
  ds.d5433 = temp * f543 * g533;
  ds.xlamo = std::fmod(in.mo + in.nodeo + in.nodeo - theta - theta, kTwoPi);
  ds.xfact = in.mdot + ds.dmdt + 2.0 * (in.nodedot + ds.dnodt - kRptim) - in.no_unkozai;
}

// dsinit: secular lunar-solar rates and, for resonant orbits, the resonance coefficients.
void ComputeDsinit(const DeepSpaceInput& in, const Dscom& c, DeepSpace& ds) {
  const double q22 = 1.7891679e-6;
  const double q31 = 2.1460748e-6;
  const double q33 = 2.2123015e-7;
  const double nm = in.no_unkozai;
  const double em = in.ecco;
  const double inclm = in.inclo;
  const double cosim = c.cosim, sinim = c.sinim, emsq = c.emsq;

  ds.irez = 0;
  if (nm < 0.0052359877 && nm > 0.0034906585) ds.irez = 1;
  if (nm >= 8.26e-3 && nm <= 9.24e-3 && em >= 0.5) ds.irez = 2;

  // Solar terms.
  const double ses = c.ss1 * kZns * c.ss5;
  const double sis = c.ss2 * kZns * (c.sz11 + c.sz13);
  const double sls = -kZns * c.ss3 * (c.sz1 + c.sz3 - 14.0 - 6.0 * emsq);
  const double sghs = c.ss4 * kZns * (c.sz31 + c.sz33 - 6.0);
  double shs = -kZns * c.ss2 * (c.sz21 + c.sz23);
  // Near-equatorial orbits (and 180 degrees): the node rate is undefined, Vallado zeroes it.
  const bool near_equatorial = inclm < 5.2359877e-2 || inclm > kPi - 5.2359877e-2;
  if (near_equatorial) shs = 0.0;
  if (sinim != 0.0) shs = shs / sinim;
  const double sgs = sghs - cosim * shs;

  // Lunar terms.
  ds.dedt = ses + c.s1 * kZnl * c.s5;
  ds.didt = sis + c.s2 * kZnl * (c.z11 + c.z13);
  ds.dmdt = sls - kZnl * c.s3 * (c.z1 + c.z3 - 14.0 - 6.0 * emsq);
  const double sghl = c.s4 * kZnl * (c.z31 + c.z33 - 6.0);
  double shll = -kZnl * c.s2 * (c.z21 + c.z23);
  if (near_equatorial) shll = 0.0;
  ds.domdt = sgs + sghl;
  ds.dnodt = shs;
  if (sinim != 0.0) {
    ds.domdt = ds.domdt - cosim / sinim * shll;
    ds.dnodt = ds.dnodt + shll / sinim;
  }

  // Resonance terms (tc = 0 at initialisation).
  const double theta = std::fmod(ds.gsto, kTwoPi);
  if (ds.irez == 0) return;
  const double aonv = std::pow(nm / kXke, kX2o3);
  if (ds.irez == 2) InitHalfDayResonance(in, c, nm, aonv, theta, ds);
  if (ds.irez == 1) {
    const double g200 = 1.0 + emsq * (-2.5 + 0.8125 * emsq);
    const double g310 = 1.0 + 2.0 * emsq;
    const double g300 = 1.0 + emsq * (-6.0 + 6.60937 * emsq);
    const double f220 = 0.75 * (1.0 + cosim) * (1.0 + cosim);
    const double f311 = 0.9375 * sinim * sinim * (1.0 + 3.0 * cosim) - 0.75 * (1.0 + cosim);
    double f330 = 1.0 + cosim;
    f330 = 1.875 * f330 * f330 * f330;
    double del1 = 3.0 * nm * nm * aonv * aonv;
    ds.del2 = 2.0 * del1 * f220 * g200 * q22;
    ds.del3 = 3.0 * del1 * f330 * g300 * q33 * aonv;
    ds.del1 = del1 * f311 * g310 * q31 * aonv;
    ds.xlamo = std::fmod(in.mo + in.nodeo + in.argpo - theta, kTwoPi);
    ds.xfact = in.mdot + in.xpidot - kRptim + ds.dmdt + ds.domdt + ds.dnodt - in.no_unkozai;
  }
}

}  // namespace

DeepSpace InitDeepSpace(const DeepSpaceInput& in) {
  DeepSpace ds;
  ds.ops_mode = in.ops_mode;
  ds.argpo = in.argpo;
  ds.argpdot = in.argpdot;
  ds.no_unkozai = in.no_unkozai;
  ds.gsto = in.ops_mode == Sgp4OpsMode::kAfspc
                ? AfspcGsto(in.epoch_days_since_1950)
                : GreenwichSiderealAngleRad(in.epoch_days_since_1950 + 2433281.5);
  const Dscom c = ComputeDscom(in, ds);
  // Vallado calls dpper here with init = 'y', which changes no element; it is omitted.
  ComputeDsinit(in, c, ds);
  return ds;
}

void ApplyDeepSpaceSecular(const DeepSpace& ds, double t, MeanElements& m) {
  const double fasx2 = 0.13130908;
  const double fasx4 = 2.8843198;
  const double fasx6 = 0.37448087;
  const double g22 = 5.7686396;
  const double g32 = 0.95240898;
  const double g44 = 1.8014998;
  const double g52 = 1.0508330;
  const double g54 = 4.4108898;
  // The integrator's step (minutes) and the half-step-squared factor 720^2 / 2.
  const double stepp = 720.0;
  const double stepn = -720.0;
  const double step2 = 259200.0;

  const double tc = t;
  const double theta = std::fmod(ds.gsto + tc * kRptim, kTwoPi);
  m.em = m.em + ds.dedt * t;
  m.inclm = m.inclm + ds.didt * t;
  m.argpm = m.argpm + ds.domdt * t;
  m.nodem = m.nodem + ds.dnodt * t;
  m.mm = m.mm + ds.dmdt * t;
  if (ds.irez == 0) return;

  // Euler-Maclaurin integration of the resonance from the epoch in 720-minute steps. Vallado
  // resumes from the last call's step when it can; restarting always from the epoch performs the
  // same operations, so the result is the same and no state is kept.
  double atime = 0.0;
  double xni = ds.no_unkozai;
  double xli = ds.xlamo;
  const double delt = t > 0.0 ? stepp : stepn;
  double xndt = 0, xldot = 0, xnddt = 0, ft = 0;
  for (;;) {
    if (ds.irez != 2) {
      // Near-synchronous resonance.
      xndt = ds.del1 * std::sin(xli - fasx2) + ds.del2 * std::sin(2.0 * (xli - fasx4)) +
             ds.del3 * std::sin(3.0 * (xli - fasx6));
      xldot = xni + ds.xfact;
      xnddt = ds.del1 * std::cos(xli - fasx2) + 2.0 * ds.del2 * std::cos(2.0 * (xli - fasx4)) +
              3.0 * ds.del3 * std::cos(3.0 * (xli - fasx6));
      xnddt = xnddt * xldot;
    } else {
      // Near half-day resonance.
      const double xomi = ds.argpo + ds.argpdot * atime;
      const double x2omi = xomi + xomi;
      const double x2li = xli + xli;
      xndt = ds.d2201 * std::sin(x2omi + xli - g22) + ds.d2211 * std::sin(xli - g22) +
             ds.d3210 * std::sin(xomi + xli - g32) + ds.d3222 * std::sin(-xomi + xli - g32) +
             ds.d4410 * std::sin(x2omi + x2li - g44) + ds.d4422 * std::sin(x2li - g44) +
             ds.d5220 * std::sin(xomi + xli - g52) + ds.d5232 * std::sin(-xomi + xli - g52) +
             ds.d5421 * std::sin(xomi + x2li - g54) + ds.d5433 * std::sin(-xomi + x2li - g54);
      xldot = xni + ds.xfact;
      xnddt =
          ds.d2201 * std::cos(x2omi + xli - g22) + ds.d2211 * std::cos(xli - g22) +
          ds.d3210 * std::cos(xomi + xli - g32) + ds.d3222 * std::cos(-xomi + xli - g32) +
          ds.d5220 * std::cos(xomi + xli - g52) + ds.d5232 * std::cos(-xomi + xli - g52) +
          2.0 * (ds.d4410 * std::cos(x2omi + x2li - g44) + ds.d4422 * std::cos(x2li - g44) +
                 ds.d5421 * std::cos(xomi + x2li - g54) + ds.d5433 * std::cos(-xomi + x2li - g54));
      xnddt = xnddt * xldot;
    }
    if (std::fabs(t - atime) < stepp) {
      ft = t - atime;
      break;
    }
    xli = xli + xldot * delt + xndt * step2;
    xni = xni + xndt * delt + xnddt * step2;
    atime = atime + delt;
  }
  m.nm = xni + xndt * ft + xnddt * ft * ft * 0.5;
  const double xl = xli + xldot * ft + xndt * ft * ft * 0.5;
  if (ds.irez != 1) {
    m.mm = xl - 2.0 * m.nodem + 2.0 * theta;
  } else {
    m.mm = xl - m.nodem - m.argpm + theta;
  }
  const double dndt = m.nm - ds.no_unkozai;
  m.nm = ds.no_unkozai + dndt;
}

void ApplyLunarSolarPeriodics(const DeepSpace& ds, double t, double& ep, double& inclp,
                              double& nodep, double& argpp, double& mp) {
  // Solar periodics.
  double zm = ds.zmos + kZns * t;
  double zf = zm + 2.0 * kZes * std::sin(zm);
  double sinzf = std::sin(zf);
  double f2 = 0.5 * sinzf * sinzf - 0.25;
  double f3 = -0.5 * sinzf * std::cos(zf);
  const double ses = ds.se2 * f2 + ds.se3 * f3;
  const double sis = ds.si2 * f2 + ds.si3 * f3;
  const double sls = ds.sl2 * f2 + ds.sl3 * f3 + ds.sl4 * sinzf;
  const double sghs = ds.sgh2 * f2 + ds.sgh3 * f3 + ds.sgh4 * sinzf;
  const double shs = ds.sh2 * f2 + ds.sh3 * f3;
  // Lunar periodics.
  zm = ds.zmol + kZnl * t;
  zf = zm + 2.0 * kZel * std::sin(zm);
  sinzf = std::sin(zf);
  f2 = 0.5 * sinzf * sinzf - 0.25;
  f3 = -0.5 * sinzf * std::cos(zf);
  const double sel = ds.ee2 * f2 + ds.e3 * f3;
  const double sil = ds.xi2 * f2 + ds.xi3 * f3;
  const double sll = ds.xl2 * f2 + ds.xl3 * f3 + ds.xl4 * sinzf;
  const double sghl = ds.xgh2 * f2 + ds.xgh3 * f3 + ds.xgh4 * sinzf;
  const double shll = ds.xh2 * f2 + ds.xh3 * f3;
  const double pe = ses + sel;
  const double pinc = sis + sil;
  const double pl = sls + sll;
  double pgh = sghs + sghl;
  double ph = shs + shll;

  inclp = inclp + pinc;
  ep = ep + pe;
  const double sinip = std::sin(inclp);
  const double cosip = std::cos(inclp);

  // Lyddane choice: Vallado keeps the test on the perturbed inclination, as in SGP4 proper.
  if (inclp >= 0.2) {
    ph = ph / sinip;
    pgh = pgh - cosip * ph;
    argpp = argpp + pgh;
    nodep = nodep + ph;
    mp = mp + pl;
    return;
  }
  // Low inclination: apply the periodics to the non-singular elements (Lyddane).
  const double sinop = std::sin(nodep);
  const double cosop = std::cos(nodep);
  double alfdp = sinip * sinop;
  double betdp = sinip * cosop;
  const double dalf = ph * cosop + pinc * cosip * sinop;
  const double dbet = -ph * sinop + pinc * cosip * cosop;
  alfdp = alfdp + dalf;
  betdp = betdp + dbet;
  const bool afspc = ds.ops_mode == Sgp4OpsMode::kAfspc;
  nodep = std::fmod(nodep, kTwoPi);
  // AFSPC's intrinsic functions returned the node in [0, 2 pi).
  if (nodep < 0.0 && afspc) nodep = nodep + kTwoPi;
  double xls = mp + argpp + cosip * nodep;
  const double dls = pl + pgh - pinc * nodep * sinip;
  xls = xls + dls;
  const double xnoh = nodep;
  nodep = std::atan2(alfdp, betdp);
  if (nodep < 0.0 && afspc) nodep = nodep + kTwoPi;
  if (std::fabs(xnoh - nodep) > kPi) {
    if (nodep < xnoh) {
      nodep = nodep + kTwoPi;
    } else {
      nodep = nodep - kTwoPi;
    }
  }
  mp = mp + pl;
  argpp = xls - mp - cosip * nodep;
}

}  // namespace sgp4_internal
}  // namespace crosslink::linkmodel
