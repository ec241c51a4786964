import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class TrappingRainWaterEnv(gymnasium.Env):
    """Compute how much rain water is trapped by an elevation map of non-negative bar heights, each
    bar 1 wide: the water above a bar rises to the lower of the highest bar on its left and the
    highest bar on its right (each including the bar itself). Observe shows the heights; use
    ComputeLeftMax, ComputeRightMax and WaterAt and submit the total as an integer with Done (0 for
    fewer than 3 bars)."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_LEFT_MAX = 1
        self.COMPUTE_RIGHT_MAX = 2
        self.WATER_AT = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputeLeftMax": self.COMPUTE_LEFT_MAX,
            "ComputeRightMax": self.COMPUTE_RIGHT_MAX,
            "WaterAt": self.WATER_AT,
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
        prefix = "TrappingRainWaterEnv@"
        if not env_str.startswith(prefix):
            return None
        return TrappingRainWaterEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.height = list(options.get("height", []))
        n = len(self.height)
        # left_max[i] = max(height[0..i]), right_max[i] = max(height[i..n-1]);
        # None marks a value that has not been computed yet
        self.left_max = [None] * n
        self.right_max = [None] * n
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        h = self.height
        left, right = 0, len(h) - 1
        left_top, right_top = 0, 0
        total = 0
        while left < right:
            if h[left] <= h[right]:
                left_top = max(left_top, h[left])
                total += left_top - h[left]
                left += 1
            else:
                right_top = max(right_top, h[right])
                total += right_top - h[right]
                right -= 1
        return total

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
            elif action_code == self.COMPUTE_LEFT_MAX:
                if "i" in params:
                    msg = self.ComputeLeftMax(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputeLeftMax action."
            elif action_code == self.COMPUTE_RIGHT_MAX:
                if "i" in params:
                    msg = self.ComputeRightMax(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputeRightMax action."
            elif action_code == self.WATER_AT:
                if "i" in params:
                    msg = self.WaterAt(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for WaterAt action."
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
    def _check_index(self, i):
        i = _require_int(i, "i")
        n = len(self.height)
        if n == 0:
            raise ValueError("the elevation map is empty")
        if i < 0 or i >= n:
            raise ValueError(f"index {i} out of range 0..{n - 1}")
        return i

    def Observe(self):
        r"""
        Return the elevation map: non-negative bar heights of width 1, left to right. The task
        is the total amount of rain water trapped between the bars.

        Returns:
            str: JSON list of integers.

        Example Output:
            "[0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 2, 1]"
        """
        return json.dumps(self.height)

    def ComputeLeftMax(self, i):
        r"""
        Compute the prefix maximum left_max[i] = max(height[0..i]) = max(left_max[i-1], height[i]).
        left_max[i-1] must already be computed (no requirement for i = 0), so call this for
        i = 0, 1, 2, ... in order.

        Args:
            i (int): bar index, 0..len(height)-1.

        Returns:
            str: the value left_max[i] as an integer.

        Example Output:
            "2"
        """
        i = self._check_index(i)
        if i == 0:
            value = self.height[0]
        else:
            if self.left_max[i - 1] is None:
                raise ValueError(f"left_max[{i - 1}] has not been computed yet")
            value = max(self.left_max[i - 1], self.height[i])
        self.left_max[i] = value
        return str(value)

    def ComputeRightMax(self, i):
        r"""
        Compute the suffix maximum right_max[i] = max(height[i..n-1]) = max(right_max[i+1], height[i]).
        right_max[i+1] must already be computed (no requirement for i = n-1), so call this for
        i = n-1, n-2, ..., 0 in order.

        Args:
            i (int): bar index, 0..len(height)-1.

        Returns:
            str: the value right_max[i] as an integer.

        Example Output:
            "3"
        """
        i = self._check_index(i)
        n = len(self.height)
        if i == n - 1:
            value = self.height[i]
        else:
            if self.right_max[i + 1] is None:
                raise ValueError(f"right_max[{i + 1}] has not been computed yet")
            value = max(self.right_max[i + 1], self.height[i])
        self.right_max[i] = value
        return str(value)

    def WaterAt(self, i):
        r"""
        Return the water standing above bar i: min(left_max[i], right_max[i]) - height[i].
        Both left_max[i] and right_max[i] must already be computed.

        Args:
            i (int): bar index, 0..len(height)-1.

        Returns:
            str: the amount of water above bar i as an integer.

        Example Output:
            "1"
        """
        i = self._check_index(i)
        if self.left_max[i] is None:
            raise ValueError(f"left_max[{i}] has not been computed yet")
        if self.right_max[i] is None:
            raise ValueError(f"right_max[{i}] has not been computed yet")
        return str(min(self.left_max[i], self.right_max[i]) - self.height[i])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the total amount of trapped rain water.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 6, reference answer: 6, result: correct, reward=1"
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
        height = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = len(height)
        for i in range(n):
            self.step(json.dumps({"name": "ComputeLeftMax", "parameters": {"i": i}}))
        for i in range(n - 1, -1, -1):
            self.step(json.dumps({"name": "ComputeRightMax", "parameters": {"i": i}}))
        total = 0
        for i in range(n):
            total += int(self.step(json.dumps({"name": "WaterAt", "parameters": {"i": i}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": total}}))[1]


if __name__ == "__main__":
    env = TrappingRainWaterEnv.from_env_str(
        'TrappingRainWaterEnv@{"height": [0, 1, 0, 2, 1, 0, 1, 3, 2, 1, 2, 1]}'
    )
    print(env.solve())
    print("step count:", env.step_count)
    env = TrappingRainWaterEnv.from_env_str('TrappingRainWaterEnv@{"height": [4, 2, 0, 3, 2, 5]}')
    print(env.solve())
    print("step count:", env.step_count)
