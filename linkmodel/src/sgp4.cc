// SGP4 initialisation (Vallado's twoline2rv unit conversion, initl and sgp4init) and the
// propagation itself (sgp4). The deep-space pieces live in sgp4_deep_space.cc. Operations keep
// Vallado's order: the verification output is matched to the last printed digit.
#include "crosslink/linkmodel/sgp4.h"

#include <cmath>
#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_format.h"
#include "sgp4_deep_space.h"

namespace crosslink::linkmodel {

using sgp4_internal::kPi;
using sgp4_internal::kTwoPi;
using sgp4_internal::kX2o3;
using sgp4_internal::kXke;
using sgp4_internal::Wgs72;

namespace {

// Divisor guard for inclinations of 180 degrees (Vallado's temp4).
constexpr double kTemp4 = 1.5e-12;

absl::Status PropagationError(int64_t norad_id, double tsince_min, int code,
                              const std::string& reason) {
  return absl::OutOfRangeError(
      absl::StrFormat("SGP4: satellite %d at %.6f min from its TLE epoch: error %d, %s", norad_id,
                      tsince_min, code, reason));
}

}  // namespace

absl::StatusOr<Sgp4> Sgp4::Create(const Tle& tle, const Sgp4Options& options) {
  if (!(tle.eccentricity >= 0.0 && tle.eccentricity < 1.0)) {
    return absl::InvalidArgumentError(absl::StrFormat(
        "SGP4: satellite %d: eccentricity %g outside [0, 1)", tle.norad_id, tle.eccentricity));
  }
  if (!(tle.mean_motion_rev_per_day > 0.0)) {
    return absl::InvalidArgumentError(
        absl::StrFormat("SGP4: satellite %d: mean motion %g rev/day is not positive", tle.norad_id,
                        tle.mean_motion_rev_per_day));
  }
  Sgp4 s;
  s.norad_id_ = tle.norad_id;
  s.epoch_ = tle.epoch;

  // twoline2rv: TLE units to SGP4's (radians, rad/min).
  constexpr double kDeg2Rad = kPi / 180.0;
  constexpr double kXpdotp = 1440.0 / (2.0 * kPi);  // rev/day per rad/min
  const double no_kozai = tle.mean_motion_rev_per_day / kXpdotp;
  s.bstar_ = tle.bstar_per_earth_radius;
  s.ecco_ = tle.eccentricity;
  s.inclo_ = tle.inclination_deg * kDeg2Rad;
  s.nodeo_ = tle.raan_deg * kDeg2Rad;
  s.argpo_ = tle.arg_perigee_deg * kDeg2Rad;
  s.mo_ = tle.mean_anomaly_deg * kDeg2Rad;
  const double epoch = (tle.epoch_jd_whole + tle.epoch_jd_fraction) - 2433281.5;

  const double radius = Wgs72::kRadiusEarthKm;
  const double j2 = Wgs72::kJ2;
  const double j4 = Wgs72::kJ4;
  const double j3oj2 = Wgs72::kJ3oJ2;
  const double ss = 78.0 / radius + 1.0;
  const double qzms2ttemp = (120.0 - 78.0) / radius;
  const double qzms2t = qzms2ttemp * qzms2ttemp * qzms2ttemp * qzms2ttemp;

  // ---- initl: auxiliary epoch quantities and the un-Kozai'd mean motion ----
  const double ecco = s.ecco_;
  const double eccsq = ecco * ecco;
  const double omeosq = 1.0 - eccsq;
  const double rteosq = std::sqrt(omeosq);
  const double cosio = std::cos(s.inclo_);
  const double cosio2 = cosio * cosio;
  const double ak = std::pow(kXke / no_kozai, kX2o3);
  const double d1 = 0.75 * j2 * (3.0 * cosio2 - 1.0) / (rteosq * omeosq);
  double del = d1 / (ak * ak);
  const double adel = ak * (1.0 - del * del - del * (1.0 / 3.0 + 134.0 * del * del / 81.0));
  del = d1 / (adel * adel);
  s.no_unkozai_ = no_kozai / (1.0 + del);
  const double no = s.no_unkozai_;
  const double ao = std::pow(kXke / no, kX2o3);
  const double sinio = std::sin(s.inclo_);
  s.sinio_ = sinio;
  s.cosio_ = cosio;
  const double po = ao * omeosq;
  const double con42 = 1.0 - 5.0 * cosio2;
  s.con41_ = -con42 - cosio2 - cosio2;
  const double posq = po * po;
  const double rp = ao * (1.0 - ecco);
  s.a_no_drag_ = ao;  // pow(xke / no, 2/3), the same expression Propagate would evaluate

  // ---- sgp4init ----
  s.isimp_ = rp < (220.0 / radius + 1.0);
  double sfour = ss;
  double qzms24 = qzms2t;
  const double perige = (rp - 1.0) * radius;
  // Perigees below 156 km: the atmosphere's s and q0 parameters are altered.
  if (perige < 156.0) {
    sfour = perige - 78.0;
    if (perige < 98.0) sfour = 20.0;
    const double qzms24temp = (120.0 - sfour) / radius;
    qzms24 = qzms24temp * qzms24temp * qzms24temp * qzms24temp;
    sfour = sfour / radius + 1.0;
  }
  const double pinvsq = 1.0 / posq;
  const double tsi = 1.0 / (ao - sfour);
  s.eta_ = ao * ecco * tsi;
  const double etasq = s.eta_ * s.eta_;
  const double eeta = ecco * s.eta_;
  const double psisq = std::fabs(1.0 - etasq);
  const double coef = qzms24 * std::pow(tsi, 4.0);
  const double coef1 = coef / std::pow(psisq, 3.5);
  const double cc2 = coef1 * no *
                     (ao * (1.0 + 1.5 * etasq + eeta * (4.0 + etasq)) +
                      0.375 * j2 * tsi / psisq * s.con41_ * (8.0 + 3.0 * etasq * (8.0 + etasq)));
  s.cc1_ = s.bstar_ * cc2;
  double cc3 = 0.0;
  if (ecco > 1.0e-4) cc3 = -2.0 * coef * tsi * j3oj2 * no * sinio / ecco;
  s.x1mth2_ = 1.0 - cosio2;
  s.cc4_ =
      2.0 * no * coef1 * ao * omeosq *
      (s.eta_ * (2.0 + 0.5 * etasq) + ecco * (0.5 + 2.0 * etasq) -
       j2 * tsi / (ao * psisq) *
           (-3.0 * s.con41_ * (1.0 - 2.0 * eeta + etasq * (1.5 - 0.5 * eeta)) +
            0.75 * s.x1mth2_ * (2.0 * etasq - eeta * (1.0 + etasq)) * std::cos(2.0 * s.argpo_)));
  s.cc5_ = 2.0 * coef1 * ao * omeosq * (1.0 + 2.75 * (etasq + eeta) + eeta * etasq);
  const double cosio4 = cosio2 * cosio2;
  const double temp1 = 1.5 * j2 * pinvsq * no;
  const double temp2 = 0.5 * temp1 * j2 * pinvsq;
  const double temp3 = -0.46875 * j4 * pinvsq * pinvsq * no;
  s.mdot_ = no + 0.5 * temp1 * rteosq * s.con41_ +
            0.0625 * temp2 * rteosq * (13.0 - 78.0 * cosio2 + 137.0 * cosio4);
  s.argpdot_ = -0.5 * temp1 * con42 + 0.0625 * temp2 * (7.0 - 114.0 * cosio2 + 395.0 * cosio4) +
               temp3 * (3.0 - 36.0 * cosio2 + 49.0 * cosio4);
  const double xhdot1 = -temp1 * cosio;
  s.nodedot_ =
      xhdot1 + (0.5 * temp2 * (4.0 - 19.0 * cosio2) + 2.0 * temp3 * (3.0 - 7.0 * cosio2)) * cosio;
  const double xpidot = s.argpdot_ + s.nodedot_;
  s.omgcof_ = s.bstar_ * cc3 * std::cos(s.argpo_);
  s.xmcof_ = 0.0;
  if (ecco > 1.0e-4) s.xmcof_ = -kX2o3 * coef * s.bstar_ / eeta;
  s.nodecf_ = 3.5 * omeosq * xhdot1 * s.cc1_;
  s.t2cof_ = 1.5 * s.cc1_;
  if (std::fabs(cosio + 1.0) > 1.5e-12) {
    s.xlcof_ = -0.25 * j3oj2 * sinio * (3.0 + 5.0 * cosio) / (1.0 + cosio);
  } else {
    s.xlcof_ = -0.25 * j3oj2 * sinio * (3.0 + 5.0 * cosio) / kTemp4;
  }
  s.aycof_ = -0.5 * j3oj2 * sinio;
  const double delmotemp = 1.0 + s.eta_ * std::cos(s.mo_);
  s.delmo_ = delmotemp * delmotemp * delmotemp;
  s.sinmao_ = std::sin(s.mo_);
  s.x7thm1_ = 7.0 * cosio2 - 1.0;

  // Deep space: orbital period of 225 minutes or more.
  if ((2 * kPi / no) >= 225.0) {
    s.isimp_ = true;
    sgp4_internal::DeepSpaceInput in;
    in.ops_mode = options.ops_mode;
    in.epoch_days_since_1950 = epoch;
    in.ecco = ecco;
    in.eccsq = eccsq;
    in.argpo = s.argpo_;
    in.inclo = s.inclo_;
    in.nodeo = s.nodeo_;
    in.mo = s.mo_;
    in.no_unkozai = no;
    in.mdot = s.mdot_;
    in.argpdot = s.argpdot_;
    in.nodedot = s.nodedot_;
    in.xpidot = xpidot;
    s.deep_ = std::make_shared<const sgp4_internal::DeepSpace>(sgp4_internal::InitDeepSpace(in));
  }

  if (!s.isimp_) {
    const double cc1sq = s.cc1_ * s.cc1_;
    s.d2_ = 4.0 * ao * tsi * cc1sq;
    const double temp = s.d2_ * tsi * s.cc1_ / 3.0;
    s.d3_ = (17.0 * ao + sfour) * temp;
    s.d4_ = 0.5 * temp * ao * tsi * (221.0 * ao + 31.0 * sfour) * s.cc1_;
    s.t3cof_ = s.d2_ + 2.0 * cc1sq;
    s.t4cof_ = 0.25 * (3.0 * s.d3_ + s.cc1_ * (12.0 * s.d2_ + 10.0 * cc1sq));
    s.t5cof_ = 0.2 * (3.0 * s.d4_ + 12.0 * s.cc1_ * s.d3_ + 6.0 * s.d2_ * s.d2_ +
                      15.0 * cc1sq * (2.0 * s.d2_ + cc1sq));
  }
  return s;
}

absl::StatusOr<StateVector> Sgp4::Propagate(double t) const {
  const double j2 = Wgs72::kJ2;
  const double j3oj2 = Wgs72::kJ3oJ2;

  // ---- secular gravity and atmospheric drag ----
  const double xmdf = mo_ + mdot_ * t;
  const double argpdf = argpo_ + argpdot_ * t;
  const double nodedf = nodeo_ + nodedot_ * t;
  double argpm = argpdf;
  double mm = xmdf;
  const double t2 = t * t;
  double nodem = nodedf + nodecf_ * t2;
  double tempa = 1.0 - cc1_ * t;
  double tempe = bstar_ * cc4_ * t;
  double templ = t2cof_ * t2;
  if (!isimp_) {
    const double delomg = omgcof_ * t;
    const double delmtemp = 1.0 + eta_ * std::cos(xmdf);
    const double delm = xmcof_ * (delmtemp * delmtemp * delmtemp - delmo_);
    const double temp = delomg + delm;
    mm = xmdf + temp;
    argpm = argpdf - temp;
    const double t3 = t2 * t;
    const double t4 = t3 * t;
    tempa = tempa - d2_ * t2 - d3_ * t3 - d4_ * t4;
    tempe = tempe + bstar_ * cc5_ * (std::sin(mm) - sinmao_);
    templ = templ + t3cof_ * t3 + t4 * (t4cof_ + t * t5cof_);
  }

  double nm = no_unkozai_;
  double em = ecco_;
  double inclm = inclo_;
  double a_no_drag = a_no_drag_;
  if (deep_) {
    sgp4_internal::MeanElements m{em, argpm, inclm, mm, nodem, nm};
    sgp4_internal::ApplyDeepSpaceSecular(*deep_, t, m);
    em = m.em, argpm = m.argpm, inclm = m.inclm, mm = m.mm, nodem = m.nodem, nm = m.nm;
    if (nm <= 0.0) {
      return PropagationError(norad_id_, t, 2,
                              absl::StrFormat("mean motion %g rad/min is not positive", nm));
    }
    a_no_drag = std::pow(kXke / nm, kX2o3);
  }

  const double am = a_no_drag * tempa * tempa;
  nm = kXke / std::pow(am, 1.5);
  em = em - tempe;
  if (em >= 1.0 || em < -0.001) {
    return PropagationError(norad_id_, t, 1,
                            absl::StrFormat("mean eccentricity %g outside [-0.001, 1)", em));
  }
  if (em < 1.0e-6) em = 1.0e-6;  // avoids a division by zero below
  mm = mm + no_unkozai_ * templ;
  double xlm = mm + argpm + nodem;
  nodem = std::fmod(nodem, kTwoPi);
  argpm = std::fmod(argpm, kTwoPi);
  xlm = std::fmod(xlm, kTwoPi);
  mm = std::fmod(xlm - argpm - nodem, kTwoPi);

  // ---- lunar-solar periodics (deep space) ----
  double ep = em;
  double xincp = inclm;
  double argpp = argpm;
  double nodep = nodem;
  double mp = mm;
  double sinip = 0, cosip = 0;
  double aycof = aycof_, xlcof = xlcof_;
  if (deep_) {
    sgp4_internal::ApplyLunarSolarPeriodics(*deep_, t, ep, xincp, nodep, argpp, mp);
    if (xincp < 0.0) {
      xincp = -xincp;
      nodep = nodep + kPi;
      argpp = argpp - kPi;
    }
    if (ep < 0.0 || ep > 1.0) {
      return PropagationError(norad_id_, t, 3,
                              absl::StrFormat("perturbed eccentricity %g outside [0, 1]", ep));
    }
    sinip = std::sin(xincp);
    cosip = std::cos(xincp);
    aycof = -0.5 * j3oj2 * sinip;
    if (std::fabs(cosip + 1.0) > 1.5e-12) {
      xlcof = -0.25 * j3oj2 * sinip * (3.0 + 5.0 * cosip) / (1.0 + cosip);
    } else {
      xlcof = -0.25 * j3oj2 * sinip * (3.0 + 5.0 * cosip) / kTemp4;
    }
  } else {
    // Near Earth the inclination has no secular change: sin and cos are the epoch's.
    sinip = sinio_;
    cosip = cosio_;
  }

  // ---- long-period periodics ----
  const double axnl = ep * std::cos(argpp);
  double temp = 1.0 / (am * (1.0 - ep * ep));
  const double aynl = ep * std::sin(argpp) + temp * aycof;
  const double xl = mp + argpp + nodep + temp * xlcof * axnl;

  // ---- Kepler's equation (Newton steps capped at 0.95 rad, at most 10) ----
  const double u = std::fmod(xl - nodep, kTwoPi);
  double eo1 = u;
  double tem5 = 9999.9;
  double sineo1 = 0, coseo1 = 0;
  for (int ktr = 1; std::fabs(tem5) >= 1.0e-12 && ktr <= 10; ++ktr) {
    sineo1 = std::sin(eo1);
    coseo1 = std::cos(eo1);
    tem5 = 1.0 - coseo1 * axnl - sineo1 * aynl;
    tem5 = (u - aynl * coseo1 + axnl * sineo1 - eo1) / tem5;
    if (std::fabs(tem5) >= 0.95) tem5 = tem5 > 0.0 ? 0.95 : -0.95;
    eo1 = eo1 + tem5;
  }

  // ---- short-period periodics ----
  const double ecose = axnl * coseo1 + aynl * sineo1;
  const double esine = axnl * sineo1 - aynl * coseo1;
  const double el2 = axnl * axnl + aynl * aynl;
  const double pl = am * (1.0 - el2);
  if (pl < 0.0) {
    return PropagationError(norad_id_, t, 4,
                            absl::StrFormat("semi-latus rectum %g Earth radii is negative", pl));
  }
  const double rl = am * (1.0 - ecose);
  const double rdotl = std::sqrt(am) * esine / rl;
  const double rvdotl = std::sqrt(pl) / rl;
  const double betal = std::sqrt(1.0 - el2);
  temp = esine / (1.0 + betal);
  const double sinu = am / rl * (sineo1 - aynl - axnl * temp);
  const double cosu = am / rl * (coseo1 - axnl + aynl * temp);
  double su = std::atan2(sinu, cosu);
  const double sin2u = (cosu + cosu) * sinu;
  const double cos2u = 1.0 - 2.0 * sinu * sinu;
  temp = 1.0 / pl;
  const double temp1 = 0.5 * j2 * temp;
  const double temp2 = temp1 * temp;

  double con41 = con41_, x1mth2 = x1mth2_, x7thm1 = x7thm1_;
  if (deep_) {
    const double cosisq = cosip * cosip;
    con41 = 3.0 * cosisq - 1.0;
    x1mth2 = 1.0 - cosisq;
    x7thm1 = 7.0 * cosisq - 1.0;
  }
  const double mrt = rl * (1.0 - 1.5 * temp2 * betal * con41) + 0.5 * temp1 * x1mth2 * cos2u;
  su = su - 0.25 * temp2 * x7thm1 * sin2u;
  const double xnode = nodep + 1.5 * temp2 * cosip * sin2u;
  const double xinc = xincp + 1.5 * temp2 * cosip * sinip * cos2u;
  const double mvt = rdotl - nm * temp1 * x1mth2 * sin2u / kXke;
  const double rvdot = rvdotl + nm * temp1 * (x1mth2 * cos2u + 1.5 * con41) / kXke;

  if (mrt < 1.0) {
    return PropagationError(
        norad_id_, t, 6,
        absl::StrFormat("decayed: orbit radius %.6f Earth radii is below the surface", mrt));
  }

  // ---- orientation vectors, position and velocity ----
  const double sinsu = std::sin(su);
  const double cossu = std::cos(su);
  const double snod = std::sin(xnode);
  const double cnod = std::cos(xnode);
  const double sini = std::sin(xinc);
  const double cosi = std::cos(xinc);
  const double xmx = -snod * cosi;
  const double xmy = cnod * cosi;
  const double ux = xmx * sinsu + cnod * cossu;
  const double uy = xmy * sinsu + snod * cossu;
  const double uz = sini * sinsu;
  const double vx = xmx * cossu - cnod * sinsu;
  const double vy = xmy * cossu - snod * sinsu;
  const double vz = sini * cossu;

  const double radius = Wgs72::kRadiusEarthKm;
  const double vkmpersec = radius * kXke / 60.0;
  StateVector state;
  state.position_km = {(mrt * ux) * radius, (mrt * uy) * radius, (mrt * uz) * radius};
  state.velocity_km_s = {(mvt * ux + rvdot * vx) * vkmpersec, (mvt * uy + rvdot * vy) * vkmpersec,
                         (mvt * uz + rvdot * vz) * vkmpersec};
  return state;
}

}  // namespace crosslink::linkmodel
