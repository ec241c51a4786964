import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class ProductExceptSelfEnv(gymnasium.Env):
    """For every index i of an integer array, compute the product of all elements except nums[i]
    (the empty product is 1, so a one-element array gives [1]). Observe shows the array; build
    prefix and suffix products with ComputePrefixProduct, ComputeSuffixProduct and CombineAt and
    submit with Done a JSON list of integers, one per index in the original order."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.COMPUTE_PREFIX = 1
        self.COMPUTE_SUFFIX = 2
        self.COMBINE_AT = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "ComputePrefixProduct": self.COMPUTE_PREFIX,
            "ComputeSuffixProduct": self.COMPUTE_SUFFIX,
            "CombineAt": self.COMBINE_AT,
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
        prefix = "ProductExceptSelfEnv@"
        if not env_str.startswith(prefix):
            return None
        return ProductExceptSelfEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.nums = list(options.get("nums", []))
        n = len(self.nums)
        # prefix[i] = product of nums[0..i-1], suffix[i] = product of nums[i+1..n-1];
        # None marks a value that has not been computed yet
        self.prefix = [None] * n
        self.suffix = [None] * n
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        result = []
        for i in range(len(self.nums)):
            product = 1
            for j, value in enumerate(self.nums):
                if j != i:
                    product *= value
            result.append(product)
        return result

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
            elif action_code == self.COMPUTE_PREFIX:
                if "i" in params:
                    msg = self.ComputePrefixProduct(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputePrefixProduct action."
            elif action_code == self.COMPUTE_SUFFIX:
                if "i" in params:
                    msg = self.ComputeSuffixProduct(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for ComputeSuffixProduct action."
            elif action_code == self.COMBINE_AT:
                if "i" in params:
                    msg = self.CombineAt(params["i"])
                else:
                    msg = "Error: 'i' parameter is missing for CombineAt action."
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
        n = len(self.nums)
        if n == 0:
            raise ValueError("the array is empty")
        if i < 0 or i >= n:
            raise ValueError(f"index {i} out of range 0..{n - 1}")
        return i

    def Observe(self):
        r"""
        Return the integer array. The task is, for every index i, the product of all elements
        except nums[i] (without using division).

        Returns:
            str: JSON list of integers.

        Example Output:
            "[1, 2, 3, 4]"
        """
        return json.dumps(self.nums)

    def ComputePrefixProduct(self, i):
        r"""
        Compute prefix[i] = nums[0] * ... * nums[i-1] = prefix[i-1] * nums[i-1], the product of
        everything left of index i (prefix[0] = 1). prefix[i-1] must already be computed, so
        call this for i = 0, 1, 2, ... in order.

        Args:
            i (int): index, 0..len(nums)-1.

        Returns:
            str: the value prefix[i] as an integer.

        Example Output:
            "6"
        """
        i = self._check_index(i)
        if i == 0:
            value = 1
        else:
            if self.prefix[i - 1] is None:
                raise ValueError(f"prefix[{i - 1}] has not been computed yet")
            value = self.prefix[i - 1] * self.nums[i - 1]
        self.prefix[i] = value
        return str(value)

    def ComputeSuffixProduct(self, i):
        r"""
        Compute suffix[i] = nums[i+1] * ... * nums[n-1] = suffix[i+1] * nums[i+1], the product of
        everything right of index i (suffix[n-1] = 1). suffix[i+1] must already be computed, so
        call this for i = n-1, n-2, ..., 0 in order.

        Args:
            i (int): index, 0..len(nums)-1.

        Returns:
            str: the value suffix[i] as an integer.

        Example Output:
            "12"
        """
        i = self._check_index(i)
        n = len(self.nums)
        if i == n - 1:
            value = 1
        else:
            if self.suffix[i + 1] is None:
                raise ValueError(f"suffix[{i + 1}] has not been computed yet")
            value = self.suffix[i + 1] * self.nums[i + 1]
        self.suffix[i] = value
        return str(value)

    def CombineAt(self, i):
        r"""
        Return prefix[i] * suffix[i], the product of all elements except nums[i]. Both
        prefix[i] and suffix[i] must already be computed.

        Args:
            i (int): index, 0..len(nums)-1.

        Returns:
            str: the product of all other elements as an integer.

        Example Output:
            "24"
        """
        i = self._check_index(i)
        if self.prefix[i] is None:
            raise ValueError(f"prefix[{i}] has not been computed yet")
        if self.suffix[i] is None:
            raise ValueError(f"suffix[{i}] has not been computed yet")
        return str(self.prefix[i] * self.suffix[i])

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (list[int]): for every index i, the product of all elements except nums[i].

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: [24, 12, 8, 6], reference answer: [24, 12, 8, 6], result: correct, reward=1"
        """
        if not isinstance(answer, list) or any(isinstance(x, bool) or not isinstance(x, int) for x in answer):
            raise ValueError("parameter 'answer' must be a list of integers")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        nums = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])
        n = len(nums)
        for i in range(n):
            self.step(json.dumps({"name": "ComputePrefixProduct", "parameters": {"i": i}}))
        for i in range(n - 1, -1, -1):
            self.step(json.dumps({"name": "ComputeSuffixProduct", "parameters": {"i": i}}))
        result = []
        for i in range(n):
            result.append(int(self.step(json.dumps({"name": "CombineAt", "parameters": {"i": i}}))[1]))
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": result}}))[1]


if __name__ == "__main__":
    env = ProductExceptSelfEnv.from_env_str('ProductExceptSelfEnv@{"nums": [1, 2, 3, 4]}')
    print(env.solve())
    print("step count:", env.step_count)
    env = ProductExceptSelfEnv.from_env_str('ProductExceptSelfEnv@{"nums": [-1, 1, 0, -3, 3]}')
    print(env.solve())
    print("step count:", env.step_count)
