import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class NonOverlappingIntervalsEnv(gymnasium.Env):
    """Find the minimum number of intervals to remove so that the remaining intervals are pairwise
    non-overlapping; intervals that only share an end point, like [1, 2] and [2, 3], do not
    overlap. Observe shows the intervals; select greedily with SortByEnd, TryKeep and GetKeptCount
    and submit the number removed (not the number kept) as an integer with Done (0 if there are no
    intervals)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.SORT_BY_END = 1
        self.TRY_KEEP = 2
        self.GET_KEPT_COUNT = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "SortByEnd": self.SORT_BY_END,
            "TryKeep": self.TRY_KEEP,
            "GetKeptCount": self.GET_KEPT_COUNT,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "NonOverlappingIntervalsEnv@"
        if not env_str.startswith(prefix):
            return None
        return NonOverlappingIntervalsEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        # intervals: [start, end] with start < end; intervals that only touch do not overlap
        self.intervals = [list(iv) for iv in options.get("intervals", [])]
        # working state of the greedy selection
        self.kept = []
        self.last_end = None
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data (DP over start order)."""
        items = sorted(self.intervals)
        n = len(items)
        # best[i] = largest number of pairwise non-overlapping intervals among items[i:]
        best = [0] * (n + 1)
        for i in range(n - 1, -1, -1):
            j = i + 1
            while j < n and items[j][0] < items[i][1]:
                j += 1
            best[i] = max(best[i + 1], 1 + best[j])
        return n - best[0]

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.SORT_BY_END:
                msg = self.SortByEnd()
            elif action_code == self.TRY_KEEP:
                if "index" in params:
                    msg = self.TryKeep(params["index"])
                else:
                    msg = "Error: 'index' parameter is missing for TryKeep action."
            elif action_code == self.GET_KEPT_COUNT:
                msg = self.GetKeptCount()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the intervals [start, end]. Two intervals overlap when they share more than an
        end point ([1, 2] and [2, 3] do not overlap). The minimum number of intervals to remove
        so that the remaining ones are pairwise non-overlapping is wanted.

        Returns:
            str: JSON list of [start, end] pairs; interval i is element i.

        Example Output:
            "[[1, 2], [2, 3], [3, 4], [1, 3]]"
        """
        return json.dumps(self.intervals)

    def SortByEnd(self):
        r"""
        Return the interval indices sorted by end point (ties broken by start point, then index).

        Returns:
            str: JSON list of interval indices.

        Example Output:
            "[0, 1, 3, 2]"
        """
        order = sorted(range(len(self.intervals)), key=lambda i: (self.intervals[i][1], self.intervals[i][0], i))
        return json.dumps(order)

    def TryKeep(self, index):
        r"""
        Offer interval `index` to the greedy selection: it is kept if it does not overlap the
        most recently kept interval (its start is at least that interval's end, or nothing is
        kept yet), and then becomes the most recently kept interval; otherwise it is dropped.
        Offer the intervals in order of increasing end point for the greedy rule to be optimal.

        Args:
            index (int): interval index, 0..len(intervals)-1; each interval can be kept only once.

        Returns:
            str: JSON object with "kept" (bool), "last_end" (end of the most recently kept
            interval) and "kept_count".

        Example Output:
            "{\"kept\": true, \"last_end\": 3, \"kept_count\": 2}"
        """
        index = _require_int(index, "index")
        if index < 0 or index >= len(self.intervals):
            if not self.intervals:
                raise ValueError("there are no intervals")
            raise ValueError(f"interval index {index} out of range 0..{len(self.intervals) - 1}")
        if index in self.kept:
            raise ValueError(f"interval {index} is already kept")
        start, end = self.intervals[index]
        kept = self.last_end is None or start >= self.last_end
        if kept:
            self.kept.append(index)
            self.last_end = end
        return json.dumps({"kept": kept, "last_end": self.last_end, "kept_count": len(self.kept)})

    def GetKeptCount(self):
        r"""
        Return how many intervals the greedy selection has kept so far.

        Returns:
            str: the count as an integer.

        Example Output:
            "3"
        """
        return str(len(self.kept))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the minimum number of intervals to remove.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 1, reference answer: 1, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        intervals = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        order = json.loads(self.step(json.dumps({"name": "SortByEnd", "parameters": {}}))[1])
        for index in order:
            self.step(json.dumps({"name": "TryKeep", "parameters": {"index": index}}))
        kept = int(self.step(json.dumps({"name": "GetKeptCount", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": len(intervals) - kept}}))[1]


if __name__ == "__main__":
    env = NonOverlappingIntervalsEnv.from_env_str(
        'NonOverlappingIntervalsEnv@{"intervals": [[1, 2], [2, 3], [3, 4], [1, 3]]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = NonOverlappingIntervalsEnv.from_env_str('NonOverlappingIntervalsEnv@{"intervals": [[1, 2], [1, 2], [1, 2]]}')
    print(env.solve())
    print("step count:", env.step_count)
