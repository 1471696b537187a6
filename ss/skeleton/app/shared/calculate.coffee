# Shared code runs in the browser (SS.shared.calculate) and on the server (ss.shared.calculate).
exports.circumference = (radius = 1) ->
  2 * estimatePi() * radius

estimatePi = -> 355 / 113
