import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class LongestIncreasingSubsequenceEnv(gymnasium.Env):
    """Find the length of the longest strictly increasing subsequence of a list of integers
    (elements kept in their original order, not necessarily contiguous; equal values do not
    count as increasing, so [7, 7, 7] gives 1). Observe shows the list; maintain the tails array
    with FindTailPosition, PlaceTail and GetTailsLength and submit the length as an integer with
    Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.FIND_TAIL_POSITION = 1
        self.PLACE_TAIL = 2
        self.GET_TAILS_LENGTH = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "FindTailPosition": self.FIND_TAIL_POSITION,
            "PlaceTail": self.PLACE_TAIL,
            "GetTailsLength": self.GET_TAILS_LENGTH,
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
        prefix = "LongestIncreasingSubsequenceEnv@"
        if not env_str.startswith(prefix):
            return None
        return LongestIncreasingSubsequenceEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        # tails[k] = smallest possible tail of an increasing subsequence of length k + 1
        self.tails = []
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        tails = []
        for x in self.nums:
            lo, hi = 0, len(tails)
            while lo < hi:
                mid = (lo + hi) // 2
                if tails[mid] < x:
                    lo = mid + 1
                else:
                    hi = mid
            if lo == len(tails):
                tails.append(x)
            else:
                tails[lo] = x
        return len(tails)

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
            elif action_code == self.FIND_TAIL_POSITION:
                if "value" in params:
                    msg = self.FindTailPosition(params["value"])
                else:
                    msg = "Error: 'value' parameter is missing for FindTailPosition action."
            elif action_code == self.PLACE_TAIL:
                if "position" in params and "value" in params:
                    msg = self.PlaceTail(params["position"], params["value"])
                else:
                    msg = "Error: 'position' or 'value' parameter is missing for PlaceTail action."
            elif action_code == self.GET_TAILS_LENGTH:
                msg = self.GetTailsLength()
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
        Return the list of numbers whose longest strictly increasing subsequence is wanted.

        Returns:
            str: JSON of the list of numbers.

        Example Output:
            "[10, 9, 2, 5, 3, 7, 101, 18]"
        """
        return json.dumps(self.nums)

    def FindTailPosition(self, value):
        r"""
        Find where `value` belongs in the tails array: the smallest index k such that
        tails[k] >= value (binary search), or len(tails) if every tail is smaller.
        tails[k] holds the smallest tail of any increasing subsequence of length k + 1.

        Args:
            value (int): the number being processed.

        Returns:
            str: the position as an integer.

        Example Output:
            "2"
        """
        value = _require_int(value, "value")
        lo, hi = 0, len(self.tails)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.tails[mid] < value:
                lo = mid + 1
            else:
                hi = mid
        return str(lo)

    def PlaceTail(self, position, value):
        r"""
        Put `value` into the tails array at `position`: replaces tails[position], or appends
        when position equals the current length of the tails array.

        Args:
            position (int): index in 0..len(tails).
            value (int): the number to place.

        Returns:
            str: JSON of the tails array after the update.

        Example Output:
            "[2, 3, 7]"
        """
        position = _require_int(position, "position")
        value = _require_int(value, "value")
        if position < 0 or position > len(self.tails):
            raise ValueError(f"position {position} out of range 0..{len(self.tails)}")
        if position == len(self.tails):
            self.tails.append(value)
        else:
            self.tails[position] = value
        return json.dumps(self.tails)

    def GetTailsLength(self):
        r"""
        Return the current length of the tails array, which equals the length of the
        longest increasing subsequence among the numbers processed so far.

        Returns:
            str: the length as an integer.

        Example Output:
            "4"
        """
        return str(len(self.tails))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the length of the longest strictly increasing subsequence.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 4, reference answer: 4, result: correct, reward=1"
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
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        for x in nums:
            pos = int(self.step(json.dumps({"name": "FindTailPosition", "parameters": {"value": x}}))[1])
            self.step(json.dumps({"name": "PlaceTail", "parameters": {"position": pos, "value": x}}))
        length = int(self.step(json.dumps({"name": "GetTailsLength", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": length}}))[1]


if __name__ == "__main__":
    env = LongestIncreasingSubsequenceEnv.from_env_str(
        'LongestIncreasingSubsequenceEnv@{"nums": [10, 9, 2, 5, 3, 7, 101, 18]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = LongestIncreasingSubsequenceEnv.from_env_str('LongestIncreasingSubsequenceEnv@{"nums": [7, 7, 7]}')
    print(env.solve())
    print("step count:", env.step_count)
