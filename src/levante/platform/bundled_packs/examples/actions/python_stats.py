"""Statistics of a list of numbers; an empty list fails the execution with a reason."""

from statistics import mean, median
from typing import Any

from levante.platform.runners.python_action import Action


class StatsAction(Action):
    def run(self, numbers: list[Any]) -> Any:
        values = [float(n) for n in numbers]
        if not values:
            return False, "no numbers given"
        self.logger.info("computing statistics of %d numbers", len(values))
        print(f"{len(values)} numbers")
        return {"count": len(values), "min": min(values), "max": max(values),
                "mean": mean(values), "median": median(values)}
