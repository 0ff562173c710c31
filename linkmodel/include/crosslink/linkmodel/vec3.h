// Vec3: a 3-vector of doubles for positions (km) and velocities (km/s) in an Earth-centred
// inertial frame. Plain value type; every operation is inline because link geometry evaluates
// millions of them per contact plan.
#ifndef CROSSLINK_LINKMODEL_VEC3_H_
#define CROSSLINK_LINKMODEL_VEC3_H_

#include <cmath>

namespace crosslink::linkmodel {

struct Vec3 {
  double x = 0, y = 0, z = 0;

  constexpr Vec3 operator+(const Vec3& o) const { return {x + o.x, y + o.y, z + o.z}; }
  constexpr Vec3 operator-(const Vec3& o) const { return {x - o.x, y - o.y, z - o.z}; }
  constexpr Vec3 operator*(double s) const { return {x * s, y * s, z * s}; }
  constexpr Vec3 operator/(double s) const { return {x / s, y / s, z / s}; }
  constexpr Vec3 operator-() const { return {-x, -y, -z}; }
  Vec3& operator+=(const Vec3& o) {
    x += o.x;
    y += o.y;
    z += o.z;
    return *this;
  }
  Vec3& operator-=(const Vec3& o) {
    x -= o.x;
    y -= o.y;
    z -= o.z;
    return *this;
  }
  constexpr bool operator==(const Vec3&) const = default;
};

constexpr Vec3 operator*(double s, const Vec3& v) { return v * s; }
constexpr double Dot(const Vec3& a, const Vec3& b) { return a.x * b.x + a.y * b.y + a.z * b.z; }
constexpr Vec3 Cross(const Vec3& a, const Vec3& b) {
  return {a.y * b.z - a.z * b.y, a.z * b.x - a.x * b.z, a.x * b.y - a.y * b.x};
}
inline double Norm(const Vec3& v) { return std::sqrt(Dot(v, v)); }
inline Vec3 Normalized(const Vec3& v) { return v / Norm(v); }

}  // namespace crosslink::linkmodel

#endif  // CROSSLINK_LINKMODEL_VEC3_H_
